# The portal's own image (web, worker and beat run from it); built on a site with registry access.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /srv/portal
COPY . .
RUN pip install --no-cache-dir . \
 && useradd --system --uid 10001 --home-dir /srv/portal portal \
 && mkdir -p /srv/portal/var && chown -R portal /srv/portal/var
USER 10001
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]

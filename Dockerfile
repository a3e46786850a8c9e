# The portal's own image: web (gunicorn), Celery workers and beat all run from it
# (docker-compose.yml). It builds on the Debian base the portal mints itself (scripts/make-base-images.sh),
# so it needs no registry on the internet: Debian's python3 and the dependencies from PyPI.
#   docker build -t image-portal:latest .
#   docker build --build-arg BASE=debian:bookworm-slim -t image-portal:latest .   (a site with Docker Hub)
ARG BASE=127.0.0.1:5000/base/debian:bookworm
FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/portal-venv/bin:$PATH \
    PORTAL_VAR_DIR=/srv/portal/var STATIC_ROOT=/srv/portal/staticfiles PIP_CERT=/etc/ssl/certs/ca-certificates.crt
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# A site that inspects TLS adds its certificate authorities here (deploy/site-ca/README.md).
COPY deploy/site-ca/ /usr/local/share/ca-certificates/site/
RUN update-ca-certificates >/dev/null
WORKDIR /srv/portal
# The dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes
# (the project installs no package of its own: it runs from this folder).
COPY pyproject.toml ./
RUN python3 -m venv /opt/portal-venv && pip install --no-cache-dir --disable-pip-version-check .
COPY . .
RUN python manage.py collectstatic --noinput >/dev/null \
 && useradd --system --uid 10001 --home-dir /srv/portal portal \
 && mkdir -p var/media && chown -R portal var
USER 10001
EXPOSE 8000
# Build workers drive a Docker Engine through its socket, so they run with the socket's group
# (docker-compose.yml); web, scanners and beat need nothing of the kind.
CMD ["gunicorn", "portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]

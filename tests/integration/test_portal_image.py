"""The portal's own image (the repository's Dockerfile) on real parts: built here FROM the Debian
base the portal mints, then a web container (gunicorn) and a build worker container started from it
against the real PostgreSQL, Redis, registry and Docker Engine. A person logs in on the web
container's page, and a busybox recipe requested through its API is built by the containerised
worker and published."""
import io
import os
import re
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import docker
import pytest
import requests
from django.conf import settings
from django.contrib.auth.hashers import make_password

from portal.models import Membership, Team
from tests.conftest import ARTIFACTS, ROOT, _database_url
from tests.factories import UserFactory
from tests.integration.private_services import free_port

pytestmark = pytest.mark.integration
PASSWORD = "a-real-password-for-the-image-test"
SITE_CA = Path("/usr/local/share/ca-certificates")


def build_context() -> bytes:
    """The files git keeps (tracked, or new and not ignored: never .venv or var) plus this machine's own
    certificate authorities in deploy/site-ca/ (its network inspects TLS on the way to PyPI)."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in filter(None, (f.decode() for f in files)):
            if (ROOT / name).is_file():
                tar.add(ROOT / name, arcname=name)
        for certificate in sorted(SITE_CA.glob("*.crt")):
            tar.add(certificate, arcname=f"deploy/site-ca/{certificate.name}")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def portal_image(services):
    api = docker.APIClient(version="auto", timeout=900)
    log, tag = [], "image-portal:test"
    for event in api.build(fileobj=io.BytesIO(build_context()), custom_context=True, tag=tag, rm=True, forcerm=True,
                           decode=True, buildargs={"BASE": f"{settings.REGISTRY_URL.split('://')[-1]}/base/debian:bookworm"}):
        log.append(event.get("stream", "") or event.get("error", ""))
        if "error" in event:
            (ARTIFACTS / "portal-image-build.log").write_text("".join(log))
            pytest.fail(f"The portal's image did not build: {event['error']}", pytrace=False)
    return tag


def _container(client, image, command, name, environment, **extra):
    return client.containers.run(image, command, name=name, detach=True, network_mode="host", environment=environment,
                                 labels={"io.image-portal.test": "portal-image"}, **extra)


@pytest.fixture
def running_portal(portal_image, transactional_db, starter_catalog, tmp_path):
    """A web container and a build worker container, sharing this test's database and broker;
    the worker alone serves a build queue of its own, so only it can build what the web accepts."""
    from django.db import connection

    client, token = docker.from_env(), uuid.uuid4().hex[:8]
    port, queue = free_port(), f"builds-image-{token}"
    environment = {
        "DATABASE_URL": _database_url(connection.settings_dict), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "PORTAL_REGISTRY_URL": settings.REGISTRY_URL, "SECRET_KEY": f"image-test-{token}", "ALLOWED_HOSTS": "127.0.0.1",
        "BUILD_QUEUES": queue, "PORTAL_QUARANTINE_PREFIX": settings.QUARANTINE_REPOSITORY_PREFIX,
        "PORTAL_PUBLISHED_PREFIX": settings.PUBLISHED_REPOSITORY_PREFIX,
        "PORTAL_SIGNING_KEY": Path(settings.SIGNING_KEY_FILE).read_text(),  # the gate signs what it publishes
    }
    socket_group = str(os.stat("/var/run/docker.sock").st_gid)
    # The registry answers the portal's tokens only: the containers sign them with the same key (a
    # copy the image's uid can read, as a deployment's secret would be).
    key = tmp_path / "registry-token-key.pem"
    key.write_bytes(Path(settings.REGISTRY_TOKEN_KEY_FILE).read_bytes())
    key.chmod(0o644)
    environment["PORTAL_REGISTRY_TOKEN_KEY_FILE"] = "/run/secrets/registry_token_key"
    secrets = {str(key): {"bind": "/run/secrets/registry_token_key", "mode": "ro"}}
    containers = []
    try:
        containers.append(_container(client, portal_image, ["gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{port}",
                                                             "--workers", "2"], f"portal-web-{token}", environment,
                                     volumes=secrets))
        containers.append(_container(
            client, portal_image, ["celery", "-A", "portal", "worker", "-Q", queue, "--concurrency", "1", "--loglevel", "INFO",
                                   "--hostname", f"image-{token}@%h", "--without-gossip", "--without-mingle"],
            f"portal-worker-{token}", environment, group_add=[socket_group],
            volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}, **secrets}))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/login/", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or its first worker still booting
                pass
            if time.monotonic() > deadline:
                pytest.fail("The web container did not answer:\n" + containers[0].logs().decode()[-3000:], pytrace=False)
            time.sleep(0.5)
        yield base, containers
    finally:
        for container in containers:
            (ARTIFACTS / f"{container.name}.log").write_bytes(container.logs())
            container.remove(force=True)
        client.close()


def test_the_portal_image_serves_pages_and_its_worker_builds_and_publishes(running_portal):
    base, (web, worker) = running_portal
    team = Team.objects.create(slug=f"img-{uuid.uuid4().hex[:6]}", name="Image test")
    user = UserFactory(username=f"ines-{team.slug}")
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")  # what the container's settings verify
    user.save()
    Membership.objects.create(user=user, team=team)

    browser = requests.Session()
    login = browser.get(f"{base}/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    home = browser.post(f"{base}/login/", data={"csrfmiddlewaretoken": csrf, "username": user.username, "password": PASSWORD},
                        headers={"Referer": f"{base}/login/"}, timeout=10)
    assert home.status_code == 200 and "My images" in home.text and "/static/" in home.text
    assert browser.get(f"{base}/static/css/portal.css", timeout=10).status_code == 200, "static files served by the image"

    token = requests.post(f"{base}/api/token/", data={"username": user.username, "password": PASSWORD}, timeout=10).json()["token"]
    api = requests.Session()
    api.headers["Authorization"] = f"Token {token}"
    recipe = api.post(f"{base}/api/recipes/", json={"team": team.slug, "name": "hello", "base": "busybox",
                                                    "components": [{"component": "runtime-user"}]}, timeout=30)
    assert recipe.status_code == 201, recipe.text
    build = api.post(f"{base}/api/recipes/{recipe.json()['id']}/build/", timeout=30).json()
    deadline = time.monotonic() + 300
    while (state := api.get(f"{base}/api/builds/{build['id']}/", timeout=10).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, "the containerised worker did not finish the build:\n" + worker.logs().decode()[-3000:]
        time.sleep(1)
    assert state["status"] == "succeeded", state
    assert state["published_reference"].startswith(
        f"{settings.REGISTRY_URL.split('://')[-1]}/{settings.PUBLISHED_REPOSITORY_PREFIX}/{team.slug}/hello:")
    assert "run_build[" in worker.logs().decode(), "the build ran in the worker container (its queue has no other consumer)"

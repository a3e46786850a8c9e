"""Shared fixtures. Integration fixtures check that each real service answers and FAIL (never skip)
with a message saying how to start it."""
import datetime
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.engine import images_pull
from adapters.factory import registry_client, registry_host, service_token
from adapters.registry import RegistryError
from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage, Component, ComponentVersion
from tests.factories import TeamFactory, member_of, with_role

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
START_HINT = "start it with `make services` (scripts/ensure-services.sh --with-db)"


def _changed_tracked_files() -> dict[str, str]:
    """Tracked files that differ from HEAD, each with a hash of its content now."""
    names = subprocess.run(["git", "diff", "--name-only", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    return {name: hashlib.sha256((ROOT / name).read_bytes()).hexdigest() if (ROOT / name).exists() else "gone"
            for name in names}


def pytest_sessionstart(session):
    session.config._tracked_before = _changed_tracked_files()


def pytest_sessionfinish(session, exitstatus):
    # A test once wrote ./Dockerfile over the repository's own (dockerfile-parse without a file object
    # writes to the working directory): a run that changes a tracked file fails, naming it.
    before = getattr(session.config, "_tracked_before", None)
    if before is None:
        return
    after = _changed_tracked_files()
    touched = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    if touched:
        session.config.get_terminal_writer().line(f"\nThe test run changed tracked files: {', '.join(touched)}", red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing():
    """Hashing as production does costs 0.3 s per user, and the tests create hundreds."""
    from django.test.utils import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher",
                                             "django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        yield


@pytest.fixture(scope="session", autouse=True)
def signing_key_file(tmp_path_factory):
    """The portal signs what it publishes: one key for the run, in a file of its own (the rows that
    register it are made on first use, inside each test's database)."""
    from django.test.utils import override_settings

    from compliance.attestations.keys import signing_key_generate

    path = tmp_path_factory.mktemp("signing") / "key.pem"
    path.write_bytes(signing_key_generate().private_pem())
    # Workers and web servers the tests start as processes read the same key from their environment.
    saved = {name: os.environ.pop(name, None) for name in ("PORTAL_SIGNING_KEY_FILE", "PORTAL_SIGNING_KEY")}
    os.environ["PORTAL_SIGNING_KEY_FILE"] = str(path)
    try:
        with override_settings(SIGNING_KEY_FILE=str(path), SIGNING_KEY_PEM=""):
            yield path
    finally:
        os.environ.pop("PORTAL_SIGNING_KEY_FILE", None)
        os.environ.update({name: value for name, value in saved.items() if value is not None})


@pytest.fixture(autouse=True)
def pages_forgotten():
    """Each test starts with no kept page (portal/page_cache): versions of different tests' data
    never meet, but a test should not depend on what another one read."""
    from django.core.cache import caches

    caches["pages"].clear()


@pytest.fixture
def pages_uncached(settings):
    """For tests that read a page's template context (`response.context`) after asking for the
    same page again: a page sent from the cache renders no template. tests/portal/test_page_cache.py
    tests the cache itself."""
    settings.PAGE_CACHE_SECONDS = 0


@pytest.fixture
def team(db):
    return TeamFactory(slug="payments", name="Payments")


@pytest.fixture
def other_team(db):
    return TeamFactory(slug="search", name="Search")


@pytest.fixture
def member(team):
    return member_of(team, "alice")


@pytest.fixture
def outsider(other_team):
    return member_of(other_team, "mallory")


@pytest.fixture
def reviewer(db):
    from portal.models import GlobalRole
    from tests.factories import UserFactory

    return with_role(UserFactory(username="rita"), GlobalRole.Kind.SECURITY_REVIEWER)


# A catalog and a recipe of team "payments" built on it, shared by the tests of every app.
@pytest.fixture
def busybox(db):
    return BaseImage.objects.create(slug="busybox", name="BusyBox", repository="base/busybox", tag="1.35",
                                    digest="sha256:" + "1" * 64, layer_digests=["sha256:" + "2" * 64],
                                    os_family="busybox", approved=True)


@pytest.fixture
def runtime_user(db):
    component = Component.objects.create(slug="runtime-user", name="Non-root runtime user", kind="option", order_weight=90)
    return ComponentVersion.objects.create(
        component=component, version="1", os_families=["busybox", "debian"], fragment="RUN echo app >> /etc/passwd",
        final_fragment="USER {{ uid }}", parameters=[{"name": "uid", "type": "integer", "default": "10001", "min": 1000, "max": 65000}])


@pytest.fixture
def recipe(team, member, busybox, runtime_user):
    return recipe_save(user=member, team=team, name="pay-api", base=busybox, choices=[(runtime_user, {"uid": "10001"})])


@pytest.fixture
def build(recipe, member):
    return build_request(user=member, recipe=recipe)


# One OSV record per ecosystem the tests' images have packages in, for a package none of them has:
# an import of it makes the ecosystem's vulnerability data current without any finding. An image
# whose packages are in an ecosystem without current data is "not assessed" and blocked.
BASELINE_ECOSYSTEMS = ("Debian:12", "PyPI", "Maven", "npm")
_NOBODY = {"Maven": "org.example.portal:nobody-installs"}  # Maven names are group:artifact


def baseline_osv_records(ecosystems=BASELINE_ECOSYSTEMS) -> list[dict]:
    return [{"schema_version": "1.6.0", "id": f"PORTAL-BASELINE-{ecosystem.replace(':', '-')}",
             "modified": "2026-01-01T00:00:00Z", "published": "2026-01-01T00:00:00Z", "aliases": [],
             "summary": "A record the tests import so that this ecosystem has vulnerability data",
             "affected": [{"package": {"ecosystem": ecosystem, "name": _NOBODY.get(ecosystem, "portal-nobody-installs")},
                           "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0.1"}]}]}]}
            for ecosystem in ecosystems]


def vulnerability_data_import(folder: Path, ecosystems=BASELINE_ECOSYSTEMS):
    """Import the baseline records from `folder` (made if need be) the way an operator would."""
    from compliance.vulndb.store import vulndb_import

    folder.mkdir(parents=True, exist_ok=True)
    for record in baseline_osv_records(ecosystems):
        (folder / f"{record['id']}.json").write_text(json.dumps(record))
    run, _ = vulndb_import(source="osv", path=str(folder))
    assert run.status == "done", run.error
    return run


@pytest.fixture
def vulnerability_data(db, tmp_path):
    """Current vulnerability data for Debian 12, PyPI, Maven and npm, with no finding on any test image."""
    return vulnerability_data_import(tmp_path / "vulndb-baseline")


def _fail_unless(ok: bool, what: str):
    if not ok:
        pytest.fail(f"{what} is not reachable: {START_HINT}", pytrace=False)


@pytest.fixture(scope="session")
def services():
    """Docker Engine, the registry and Redis must answer; PostgreSQL is checked by pytest-django."""
    import docker
    from django.conf import settings

    try:
        docker.APIClient(version="auto", timeout=10).ping()
        engine_ok = True
    except Exception:
        engine_ok = False
    _fail_unless(engine_ok, "The Docker Engine")
    try:
        # Up and asking for the portal's tokens (scripts/ensure-services.sh sets token auth up).
        registry_ok = registry_client("scanner").ping() is None
    except RegistryError:
        registry_ok = False
    _fail_unless(registry_ok, f"The registry at {settings.REGISTRY_URL}")
    broker = settings.CELERY_BROKER_URL
    _fail_unless(broker.startswith("redis://"), f"Redis (CELERY_BROKER_URL={broker!r} is not a redis:// URL)")
    host, port = broker.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
        redis_ok = True
    except OSError:
        redis_ok = False
    _fail_unless(redis_ok, f"Redis at {host}:{port}")


def _database_url(settings_dict) -> str:
    user = quote(settings_dict.get("USER") or "")
    password = f":{quote(settings_dict['PASSWORD'])}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


@pytest.fixture(scope="session")
def celery_worker(services, django_db_setup, django_db_blocker):
    """A real Celery worker process on Redis, using the test database."""
    from django.db import connection

    from portal.celery import app

    with django_db_blocker.unblock():
        app.control.purge()
    name = f"test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "worker.log", "w")
    env = {**os.environ, "DATABASE_URL": _database_url(connection.settings_dict)}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", "builds,scans,default",
         "--concurrency", "2", "--loglevel", "INFO", "--hostname", name, "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[name], timeout=1.0):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"The Celery worker did not start; see {ARTIFACTS / 'worker.log'}", pytrace=False)
    yield name
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture
def starter_catalog(transactional_db, services):
    """The real starter catalog, pinned to the base images in the registry."""
    from catalog.services import starter_catalog_load

    report = starter_catalog_load()
    missing = [line for line in report if "NOT in the registry" in line]
    if missing:
        pytest.fail("Base images are missing: " + "; ".join(missing) + " — run `make base-images`", pytrace=False)
    return report


def wait_for_build(build, timeout=900):
    """Poll the database until the build ends; on time-out, fail with the log tail. A build that
    was published must verify with sigstore's own verifier (every publication of the suite)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        build.refresh_from_db()
        if build.is_done:
            if build.published_reference:
                results = sigstore_verify(build, referrer_bundles(build))
                assert results and all(r["ok"] for r in results), f"build {build.pk}'s attestations: {results}"
            return build
        time.sleep(0.5)
    tail = "".join(build.log_chunks.order_by("-seq").values_list("text", flat=True)[:5][::-1])
    pytest.fail(f"build {build.pk} still {build.status} after {timeout}s; log tail:\n{tail}")


VERIFIERS = ROOT / "tests" / "verifiers"


def referrer_bundles(build) -> list[dict]:
    """The sigstore bundles listed in the published image's referrers tag, read as plain OCI."""
    from compliance.attestations.oci import referrers_tag
    from compliance.attestations.services import published_repository

    client, repository = registry_client("scanner"), published_repository(build)
    body, media_type, _ = client.manifest_bytes(repository, referrers_tag(build.digest))
    assert media_type == "application/vnd.oci.image.index.v1+json", media_type
    bundles = []
    for entry in json.loads(body)["manifests"]:
        manifest = json.loads(client.manifest_bytes(repository, entry["digest"])[0])
        assert manifest["subject"]["digest"] == build.digest and manifest["artifactType"] == entry["artifactType"]
        bundles.append(json.loads(client.blob(repository, manifest["layers"][0]["digest"])))
    return bundles


def sigstore_verify(build, bundles: list[dict], public_keys: dict | None = None, digest: str | None = None) -> list[dict]:
    """Each bundle checked by @sigstore/verify under Node.js (tests/verifiers/verify.js) against the
    portal's registered public keys (or `public_keys`, {key id: PEM}): [{ok, error, predicateType}]."""
    from compliance.models import SigningKey

    node = shutil.which("node")
    if not node or not (VERIFIERS / "node_modules" / "@sigstore" / "verify").is_dir():
        pytest.fail("sigstore's verifier is not installed: run `make verifiers` (Node.js, tests/verifiers)", pytrace=False)
    keys = public_keys if public_keys is not None else {row.key_id: row.public_key for row in SigningKey.objects.all()}
    result = subprocess.run([node, str(VERIFIERS / "verify.js")], capture_output=True, text=True, timeout=60, input=json.dumps(
        {"publicKeys": keys, "digest": digest or build.digest, "bundles": bundles}))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def run_in_image(reference, command):
    """(exit status, stdout+stderr) of a command in a fresh container. Logs are read after the
    container exits: the SDK's attached `run()` can lose output of very short-lived containers.
    The image is pulled first with a scanner token (the registry answers nobody anonymous), and
    removed afterwards when this call pulled it."""
    import docker

    pulled = images_pull(references=[reference], token=lambda repository: service_token(
        "scanner", f"repository:{repository.removeprefix(registry_host() + '/')}:pull"))
    client = docker.from_env()
    try:
        container = client.containers.run(reference, command, detach=True)
        status = container.wait(timeout=300)["StatusCode"]
        output = container.logs(stdout=True, stderr=True).decode()
        container.remove()
        if pulled:  # the test pulled it: it leaves the engine as it found it (the image carries the build label)
            client.api.remove_image(reference)
    finally:
        client.close()
    return status, output


@pytest.fixture(scope="session")
def chromium_path():
    path = "/usr/lib/chromium/chromium"
    if not Path(path).exists() and not shutil.which("chromium"):
        pytest.fail("Debian's chromium is missing: run `scripts/ensure-services.sh --with-browser`", pytrace=False)
    return path


@pytest.fixture(scope="session")
def pem() -> str:
    """A real self-signed CA certificate made for the test."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Portal Test Root CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()

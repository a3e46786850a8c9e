"""The registry's access control on real parts: a Distribution registry with `auth: token` whose
realm is the portal (served live), driven by the portal's own client, the real docker CLI and
Debian's skopeo. Anonymous requests, robots of another team, pushes by robots and a builder's
token on published/ are all refused by the registry itself; what is allowed works."""
import datetime
import json
import subprocess
import uuid

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.factory import service_token
from adapters.registry import RegistryClient, RegistryError
from builds.models import Recipe
from portal.robots.services import robot_create
from tests.adapters.test_registry_integration import push_image
from tests.integration.private_services import PrivateRegistry, private_workdir

pytestmark = pytest.mark.integration


@pytest.fixture
def token_key(tmp_path, settings):
    """A signing key of the portal and the certificate the registry trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test registry tokens")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    settings.REGISTRY_TOKEN_KEY_FILE = str(tmp_path / "key.pem")
    return tmp_path / "cert.pem"


@pytest.fixture
def registry(token_key, live_server, services):
    realm = live_server.url.replace("localhost", "127.0.0.1") + "/registry/token"
    instance = PrivateRegistry(private_workdir("registry-auth"), token_auth={
        "realm": realm, "service": "portal-registry", "issuer": "image-portal", "rootcertbundle": str(token_key)}).start()
    try:
        yield instance
    finally:
        instance.remove()


def as_service(registry, identity):
    return RegistryClient(registry.url, token_source=lambda scope: service_token(identity, scope))


@pytest.fixture
def images(registry, team, other_team, recipe, member, outsider):
    """Team payments' published pay-api, team search's private one, and a quarantined image."""
    other = Recipe.objects.create(team=other_team, name="search-api", base=recipe.base)
    gate, builder = as_service(registry, "gate"), as_service(registry, "builder")
    ours, _ = push_image(gate, "published/payments/pay-api", "1")
    theirs, _ = push_image(gate, "published/search/search-api", "1")
    quarantined, _ = push_image(builder, "quarantine/payments/pay-api", "build-1")
    robot, secret = robot_create(user=member, team=team, name="prod-cluster")
    return {"ours": ours, "theirs": theirs, "quarantined": quarantined, "robot": robot, "secret": secret, "other": other}


def denied(call) -> bool:
    try:
        call()
    except RegistryError as error:
        return error.status in (401, 403)
    return False


def test_anonymous_requests_cannot_pull_push_or_delete(registry, images):
    anonymous = RegistryClient(registry.url)
    assert denied(lambda: anonymous.manifest("published/payments/pay-api", "1"))
    assert denied(lambda: anonymous.manifest("quarantine/payments/pay-api", "build-1"))
    assert denied(lambda: anonymous.upload_blob("published/payments/pay-api", b"anonymous push"))
    deleted = requests.delete(f"{registry.url}/v2/published/payments/pay-api/manifests/{images['ours']}", timeout=10)
    assert deleted.status_code == 401
    assert as_service(registry, "scanner").manifest_digest("published/payments/pay-api", "1") == images["ours"]


def test_a_robot_pulls_its_teams_images_only_and_never_pushes(registry, images):
    robot = RegistryClient(registry.url, username=images["robot"].username, password=images["secret"])
    assert robot.manifest("published/payments/pay-api", "1")[1] == images["ours"]
    assert denied(lambda: robot.manifest("published/search/search-api", "1")), "another team's private image"
    assert denied(lambda: robot.manifest("quarantine/payments/pay-api", "build-1")), "quarantine is not for robots"
    assert denied(lambda: robot.upload_blob("published/payments/pay-api", b"robot push"))
    Recipe.objects.filter(pk=images["other"].pk).update(visible_to_other_teams=True)
    fresh = RegistryClient(registry.url, username=images["robot"].username, password=images["secret"])
    assert fresh.manifest("published/search/search-api", "1")[1] == images["theirs"], "made visible by its owners"


def test_a_builders_token_writes_quarantine_and_never_published(registry, images):
    builder = as_service(registry, "builder")
    assert builder.upload_blob("quarantine/payments/pay-api", b"a layer").startswith("sha256:")
    assert denied(lambda: builder.upload_blob("published/payments/pay-api", b"a layer"))
    assert denied(lambda: builder.copy_image("quarantine/payments/pay-api", "build-1", "published/payments/pay-api", "latest"))
    assert as_service(registry, "gate").manifest_digest("published/payments/pay-api", "latest") is None


def test_docker_login_and_pull_with_a_robot_work_and_others_images_do_not(registry, images, tmp_path):
    config = tmp_path / "docker-config"
    robot, secret = images["robot"], images["secret"]

    def docker(*args, stdin=None):
        return subprocess.run(["docker", "--config", str(config), *args], input=stdin, capture_output=True, text=True,
                              timeout=120)

    assert docker("login", registry.host, "-u", robot.username, "--password-stdin", stdin=secret).returncode == 0
    assert docker("login", registry.host, "-u", robot.username, "--password-stdin", stdin="wrong").returncode != 0
    ours, theirs = f"{registry.host}/published/payments/pay-api:1", f"{registry.host}/published/search/search-api:1"
    try:
        pulled = docker("pull", ours)
        assert pulled.returncode == 0, pulled.stderr
        assert images["ours"] in pulled.stdout
        refused = docker("pull", theirs)
        assert refused.returncode != 0 and ("denied" in refused.stderr or "unauthorized" in refused.stderr)
        docker("tag", ours, f"{registry.host}/published/payments/pay-api:pushed-by-robot")
        assert docker("push", f"{registry.host}/published/payments/pay-api:pushed-by-robot").returncode != 0
    finally:
        for reference in (ours, f"{registry.host}/published/payments/pay-api:pushed-by-robot"):
            docker("rmi", "-f", reference)


def test_skopeo_as_an_independent_client_sees_the_same_rules(registry, images):
    credentials = f"{images['robot'].username}:{images['secret']}"

    def skopeo(*args):
        return subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)

    inspected = skopeo("inspect", "--tls-verify=false", "--creds", credentials,
                       f"docker://{registry.host}/published/payments/pay-api:1")
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["Digest"] == images["ours"]
    assert skopeo("inspect", "--tls-verify=false", "--creds", credentials,
                  f"docker://{registry.host}/published/search/search-api:1").returncode != 0
    assert skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/published/payments/pay-api:1").returncode != 0
    copy = skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--src-creds", credentials,
                  "--dest-creds", credentials, f"docker://{registry.host}/published/payments/pay-api:1",
                  f"docker://{registry.host}/published/payments/pay-api:copied-{uuid.uuid4().hex[:6]}")
    assert copy.returncode != 0, "a robot never writes"

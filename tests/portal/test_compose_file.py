"""docker-compose.yml describes the whole production-like stack the settings expect."""
from pathlib import Path
from urllib.parse import urlparse

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def test_it_parses_and_names_every_service_the_settings_need():
    stack = yaml.safe_load(COMPOSE.read_text())
    services = stack["services"]
    assert {"web", "worker", "worker-b", "scanner", "beat", "postgres", "redis", "registry"} <= set(services)
    for role in ("web", "worker", "worker-b", "scanner", "beat"):
        environment = services[role]["environment"]
        for setting in ("DATABASE_URL", "CELERY_BROKER_URL", "PORTAL_REGISTRY_URL", "SECRET_KEY_FILE"):
            assert setting in environment, f"{role} lacks {setting}"
        # every URL points at a service of this stack
        for setting in ("DATABASE_URL", "CELERY_BROKER_URL", "PORTAL_REGISTRY_URL"):
            assert urlparse(environment[setting]).hostname in services, setting
    assert "builds" in services["worker"]["command"], "the worker must consume the builds queue"
    queues = services["worker"]["environment"]["BUILD_QUEUES"].split(",")
    served = {q for name in ("worker", "worker-b") for q in services[name]["command"].split("-Q ")[1].split()[0].split(",")}
    assert set(queues) <= served, "every build queue has a worker"
    assert services["worker-b"]["environment"]["DOCKER_HOST"] != services["worker"]["environment"]["DOCKER_HOST"]
    assert any("docker.sock" in v for v in services["worker"]["volumes"]), "the build worker needs an engine"


def test_the_registry_answers_only_the_portals_tokens():
    stack = yaml.safe_load(COMPOSE.read_text())
    registry = stack["services"]["registry"]["environment"]
    assert registry["REGISTRY_AUTH"] == "token" and registry["REGISTRY_AUTH_TOKEN_REALM"].endswith("/registry/token")
    assert registry["REGISTRY_AUTH_TOKEN_ISSUER"] == "image-portal" and registry["REGISTRY_AUTH_TOKEN_SERVICE"] == "portal-registry"
    for role in ("web", "worker", "scanner", "beat"):
        service = stack["services"][role]
        assert "PORTAL_REGISTRY_TOKEN_KEY_FILE" in service["environment"] and "registry_token_key" in service["secrets"], role


def test_every_portal_process_signs_with_the_same_key_from_a_secret():
    stack = yaml.safe_load(COMPOSE.read_text())
    assert stack["secrets"]["portal_signing_key"]["file"] == "./var/signing/key.pem"
    for role in ("web", "worker", "worker-b", "scanner", "beat"):
        service = stack["services"][role]
        assert service["environment"]["PORTAL_SIGNING_KEY_FILE"] == "/run/secrets/portal_signing_key", role
        assert "portal_signing_key" in service["secrets"], role
    assert "signing_key ensure" in stack["services"]["web"]["command"], "the key is registered before the first publication"


def test_the_registry_collection_runs_where_the_registry_storage_is_mounted():
    stack = yaml.safe_load(COMPOSE.read_text())
    services = stack["services"]
    queue = services["web"]["environment"]["REGISTRY_GC_QUEUE"]
    storage = services["web"]["environment"]["PORTAL_REGISTRY_STORAGE_DIR"]
    collectors = [name for name, service in services.items() if f"-Q {queue} " in service.get("command", "")]
    assert collectors == ["registry-gc"]
    registry_volume = next(v for v in services["registry"]["volumes"] if v.endswith(":/var/lib/registry")).split(":")[0]
    assert f"{registry_volume}:{storage}" in services["registry-gc"]["volumes"]

"""docker-compose.yml describes the whole production-like stack the settings expect."""
from pathlib import Path
from urllib.parse import urlparse

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def test_it_parses_and_names_every_service_the_settings_need():
    stack = yaml.safe_load(COMPOSE.read_text())
    services = stack["services"]
    assert {"web", "worker", "beat", "postgres", "redis", "registry"} <= set(services)
    for role in ("web", "worker", "beat"):
        environment = services[role]["environment"]
        for setting in ("DATABASE_URL", "CELERY_BROKER_URL", "PORTAL_REGISTRY_URL", "SECRET_KEY_FILE"):
            assert setting in environment, f"{role} lacks {setting}"
        # every URL points at a service of this stack
        for setting in ("DATABASE_URL", "CELERY_BROKER_URL", "PORTAL_REGISTRY_URL"):
            assert urlparse(environment[setting]).hostname in services, setting
    assert "builds" in services["worker"]["command"], "the worker must consume the builds queue"
    assert any("docker.sock" in v for v in services["worker"]["volumes"]), "the build worker needs an engine"

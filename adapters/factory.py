"""Which registry the portal talks to, from settings: the one place that turns settings into a
registry client, so another registry is a setting, not a code change."""
from django.conf import settings

from adapters.registry import RegistryClient


def registry_client() -> RegistryClient:
    return RegistryClient(
        settings.REGISTRY_URL, username=settings.REGISTRY_USERNAME, password=settings.REGISTRY_PASSWORD
    )


def registry_host() -> str:
    """host[:port] of the registry as image references spell it."""
    return settings.REGISTRY_URL.split("://", 1)[-1].rstrip("/")

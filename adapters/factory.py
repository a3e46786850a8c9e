"""Which registry the portal talks to and as whom, from settings: the one place that turns settings
into a registry client, so another registry is a setting, not a code change.

Each caller names its service identity (adapters/registry_tokens.py: builder, gate, scanner,
cleanup). With the token key configured (REGISTRY_TOKEN_KEY_FILE, what `make run` and `make test`
set up), the client answers the registry's challenges with tokens it signs for that identity;
without it (a registry without auth, as in the fault tests' private registries) it sends none.
"""
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from adapters.registry import RegistryClient
from adapters.registry_tokens import SERVICES, TokenIssuer, scopes_parse, service_grant


def registry_host() -> str:
    """host[:port] of the registry as image references spell it."""
    return settings.REGISTRY_URL.split("://", 1)[-1].rstrip("/")


@lru_cache(maxsize=4)
def _issuer(key_file: str, issuer: str, service: str) -> TokenIssuer | None:
    path = Path(key_file) if key_file else None
    if path is None or not path.exists():
        return None
    return TokenIssuer(path.read_bytes(), issuer=issuer, service=service)


def token_issuer() -> TokenIssuer | None:
    return _issuer(settings.REGISTRY_TOKEN_KEY_FILE, settings.REGISTRY_TOKEN_ISSUER, settings.REGISTRY_TOKEN_SERVICE)


def service_token(identity: str, scope: str) -> str:
    """A token for `identity` granting what it may of `scope` ("" when the portal mints no tokens)."""
    if identity not in SERVICES:
        raise ValueError(f"unknown registry identity {identity!r}")
    issuer = token_issuer()
    if issuer is None:
        return ""
    granted = [service_grant(identity, access, quarantine=settings.QUARANTINE_REPOSITORY_PREFIX,
                             published=settings.PUBLISHED_REPOSITORY_PREFIX) for access in scopes_parse(scope)]
    return issuer.issue(subject=f"portal-{identity}", access=granted, ttl=settings.REGISTRY_TOKEN_TTL_SECONDS)


def base_pull_token(repository: str) -> str:
    """A builder token to pull `repository` (with or without this registry's host) into the engine."""
    name = repository.removeprefix(registry_host() + "/")
    return service_token("builder", f"repository:{name}:pull")


def registry_client(identity: str, *, timeout: float = 60) -> RegistryClient:
    if identity not in SERVICES:
        raise ValueError(f"unknown registry identity {identity!r}")
    return RegistryClient(
        settings.REGISTRY_URL, username=settings.REGISTRY_USERNAME, password=settings.REGISTRY_PASSWORD, timeout=timeout,
        token_source=(lambda scope: service_token(identity, scope)) if token_issuer() is not None else None,
    )


def registry_ping(*, timeout: float) -> None:
    """RegistryError unless the registry answers its API base, with the portal's credentials, within
    `timeout` seconds (for /readyz): a registry refusing our tokens is as unusable as a stopped one."""
    client = registry_client("scanner", timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()

"""Publishing by hand while the registry is unreachable: a clear answer on the page and in the
API (503 with Retry-After), never a 500, and nothing marked published."""
import socket

import pytest

from compliance.policy.evaluation import verdict_evaluate
from tests.compliance.vulndb.test_reevaluation import another_build, published, webhook  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def passing_unpublished(published, member, settings):  # noqa: F811
    build = another_build(published, member)
    build.quarantine_repository, build.quarantine_tag = f"{settings.QUARANTINE_REPOSITORY_PREFIX}/payments/pay-api", "build-2"
    build.save()
    assert verdict_evaluate(build=build).passed
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.REGISTRY_URL = f"http://127.0.0.1:{port}"
    return build


def test_the_page_says_the_registry_is_down_and_publishes_nothing(client, member, passing_unpublished):
    client.force_login(member)
    response = client.post(f"/builds/{passing_unpublished.pk}/publish", follow=True)
    assert response.status_code == 200
    assert b"Not published: the registry answered" in response.content
    passing_unpublished.refresh_from_db()
    assert passing_unpublished.published_reference == "" and passing_unpublished.published_at is None


def test_the_api_answers_503_with_retry_after(client, member, passing_unpublished):
    client.force_login(member)
    response = client.post(f"/api/builds/{passing_unpublished.pk}/publish/")
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert response.json()["detail"].startswith("Not published: the registry answered")
    passing_unpublished.refresh_from_db()
    assert passing_unpublished.published_reference == ""

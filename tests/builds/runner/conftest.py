"""Fixtures of the runner tests."""
import pytest


@pytest.fixture
def undispatched(recipe, member, monkeypatch):
    """A queued build no broker heard of: with transaction=True the request's on_commit would send
    it, and a worker another test of the session started would take it before this test does."""
    from builds import services
    from builds.services import build_request

    monkeypatch.setattr(services, "build_dispatch", lambda build_id: None)
    return build_request(user=member, recipe=recipe)

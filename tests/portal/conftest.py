"""Fixtures shared by the portal's own tests."""
import pytest

from portal.models import GlobalRole
from tests.factories import UserFactory, with_role


@pytest.fixture
def admin(db):
    """A platform admin in no team (not a superuser)."""
    return with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)

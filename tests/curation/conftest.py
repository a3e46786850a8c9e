"""Fixtures of the catalog curation tests: a platform admin, and a second version of the runtime-user
option (tests/conftest.py's `runtime_user` is version 1) for recipes to move to."""
import pytest

from catalog.models import ComponentVersion
from portal.models import GlobalRole
from tests.factories import UserFactory, with_role


@pytest.fixture
def admin(db):
    return with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)


@pytest.fixture
def version_two(runtime_user):
    return ComponentVersion.objects.create(
        component=runtime_user.component, version="2", os_families=["busybox"], fragment="RUN true", final_fragment="USER {{ uid }}",
        parameters=[{"name": "uid", "type": "integer", "default": "10001", "min": 1000, "max": 65000, "label": "User id"}])

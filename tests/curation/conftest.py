"""Fixtures of the catalog curation tests: a platform admin, a second base, and a second version of the runtime-user
option (tests/conftest.py's `runtime_user` is version 1) for recipes to move to."""
import pytest

from catalog.models import BaseImage, ComponentVersion
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


@pytest.fixture
def busybox_two(db):
    """A second approved base, for a deprecated busybox to name as its replacement."""
    return BaseImage.objects.create(slug="busybox-136", name="BusyBox 1.36", repository="base/busybox", tag="1.36",
                                    digest="sha256:" + "3" * 64, layer_digests=["sha256:" + "4" * 64],
                                    os_family="busybox", approved=True)

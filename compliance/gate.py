"""The publication gate: the only code path that copies an image out of quarantine."""
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from builds.models import Build
from builds.snapshot import registry_host
from catalog.services import registry_client
from portal.audit import audit_record


class GateClosed(Exception):
    """Publication refused; the message says why in the user's terms."""


def publication_repository(build: Build) -> str:
    return f"{settings.PUBLISHED_REPOSITORY_PREFIX}/{build.team.slug}/{build.recipe.name}"


def verdict_make_current(build: Build) -> None:
    """A verdict computed before the latest database import, under another policy version or
    under a rule set that is no longer the team's, or one that passed thanks to an exception, is
    stale: evaluate again, from the stored SBOM, before anything is published on it (matching
    again only when the database moved)."""
    from compliance.matching import scan_match
    from compliance.models import ImageScan, Verdict
    from compliance.ruleset import ruleset_for
    from compliance.services import verdict_evaluate
    from compliance.vulndb_store import database_version

    latest = build.verdicts.order_by("-created").first()
    scan = ImageScan.objects.filter(build=build, status=ImageScan.Status.DONE).first()
    if latest is None or scan is None:
        return
    database_moved = latest.database_version != database_version()
    rules_moved = latest.policy_version != Verdict.POLICY_VERSION or latest.ruleset_version != ruleset_for(build.team).version
    # A waiver may have expired since (the periodic expiry runs every few minutes, and an expired
    # exception must stop applying at once): a verdict that leans on one is checked again.
    leans_on_waiver = any(r.get("status") == "waived" for r in latest.results)
    if not (database_moved or rules_moved or leans_on_waiver):
        return
    if database_moved:
        scan_match(scan)
    verdict_evaluate(build=build, trigger="gate")


def image_publish(*, build: Build, actor) -> str:
    """Copy the quarantined image to the publication repository if, and only if, its verdict
    passed and is current for the latest vulnerability database import and today's rules."""
    if not build.published_reference:
        verdict_make_current(build)
    with transaction.atomic():
        build = Build.objects.select_for_update().get(pk=build.pk)
        if build.published_reference:
            return build.published_reference  # idempotent: publishing twice changes nothing
        if not build.digest:
            raise GateClosed("The image was never pushed, so there is nothing to publish.")
        verdict = build.verdicts.order_by("-created").first()
        if verdict is None:
            raise GateClosed("The image has no compliance verdict yet.")
        if not verdict.passed:
            reasons = "; ".join(f"{r['title']}: {r['message']}" for r in verdict.failures)
            raise GateClosed(f"Blocked by policy: {reasons}")
        repository = publication_repository(build)
        tag = f"{build.pk}"
        digest = registry_client().copy_image(build.quarantine_repository, build.digest, repository, tag)
        if digest != build.digest:
            raise GateClosed(f"The registry changed the digest while copying ({digest} != {build.digest}).")
        registry_client().copy_image(build.quarantine_repository, build.digest, repository, "latest")
        build.published_reference = f"{registry_host()}/{repository}:{tag}@{digest}"
        build.published_at = timezone.now()
        build.steps["publish"] = {**build.steps.get("publish", {}), "status": "done", "finished": build.published_at.isoformat()}
        build.save(update_fields=["published_reference", "published_at", "steps"])
        audit_record(actor=actor, action="image.published", target=build, team=build.team,
                     reference=build.published_reference, verdict=verdict.pk)
    return build.published_reference

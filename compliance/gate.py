"""The publication gate: the only code path that copies an image out of quarantine."""
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from builds.models import Build
from builds.snapshot import registry_host
from catalog.services import registry_client
from portal.audit import audit_record
from portal.names import InvalidName, repository_path


class GateClosed(Exception):
    """Publication refused; the message says why in the user's terms."""


def publication_repository(build: Build) -> str:
    """`published/<the build's own team>/<name>`, spelled only from checked parts: a name with
    '/' or '..', or a recipe of another team, closes the gate."""
    if build.recipe.team_id != build.team_id:
        raise GateClosed("The build's recipe belongs to another team; nothing was published.")
    try:
        return repository_path(settings.PUBLISHED_REPOSITORY_PREFIX, build.team.slug, build.recipe.name)
    except InvalidName as error:
        raise GateClosed(f"Nothing was published: {error}")


def _quarantine_source_check(build: Build) -> None:
    """Only an image in its own team's quarantine repository is copied out."""
    try:
        source = repository_path(settings.QUARANTINE_REPOSITORY_PREFIX, build.team.slug, build.recipe.name)
    except InvalidName as error:
        raise GateClosed(f"Nothing was published: {error}")
    if build.quarantine_repository != source:
        raise GateClosed(f"The image is not in its team's quarantine repository ({build.quarantine_repository!r}); "
                         "nothing was published.")


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
        _quarantine_source_check(build)
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

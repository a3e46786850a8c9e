"""The publication gate: the only code path that copies an image out of quarantine.

Every rule of publication is checked here, whoever asks (the pipeline, the page, the API): the
owning team's members alone may publish, only a passing verdict that is current for today's data
and rules publishes, and only from the team's quarantine repository to its published one.
"""
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from adapters.factory import registry_client, registry_host
from adapters.registry_batch import RequestBatch
from adapters.registry_names import InvalidName, repository_path
from builds.models import Build
from compliance.attestations.keyring import SigningUnavailable, active_signer
from compliance.attestations.services import image_attest
from compliance.policy.currency import verdict_make_current
from portal.audit import audit_record
from portal.models import Membership


class GateClosed(Exception):
    """Publication refused; the message says why in the user's terms."""


def _copy_checked(client, build: Build, repository: str, tag: str, source: tuple[bytes, str, str]) -> tuple[bytes, str, str]:
    manifest = client.copy_image_manifest(build.quarantine_repository, build.digest, repository, tag, source=source)
    if manifest[2] != build.digest:
        raise GateClosed(f"The registry changed the digest while copying ({manifest[2]} != {build.digest}).")
    return manifest


def publication_repository(build: Build) -> str:
    """`published/<the build's own team>/<name>`, spelled only from checked parts: a name with
    '/' or '..', or a recipe of another team, closes the gate."""
    if build.recipe.team_id != build.team_id:
        raise GateClosed("The build's recipe belongs to another team; nothing was published.")
    try:
        return repository_path(settings.PUBLISHED_REPOSITORY_PREFIX, build.team.slug, build.recipe.name)
    except InvalidName as error:
        raise GateClosed(f"Nothing was published: {error}")


def version_tag(build: Build) -> str:
    """`<build id>-<12 hex of the digest>`: written once and never moved (the gate is the only writer of
    published/), and never the same tag for two images, even across portals sharing a registry."""
    return f"{build.pk}-{build.digest.removeprefix('sha256:')[:12]}"


def _newer_published(build: Build) -> bool:
    return Build.objects.filter(recipe_id=build.recipe_id, pk__gt=build.pk).exclude(published_reference="").exists()


def _quarantine_source_check(build: Build) -> None:
    """Only an image in its own team's quarantine repository is copied out."""
    try:
        source = repository_path(settings.QUARANTINE_REPOSITORY_PREFIX, build.team.slug, build.recipe.name)
    except InvalidName as error:
        raise GateClosed(f"Nothing was published: {error}")
    if build.quarantine_repository != source:
        raise GateClosed(f"The image is not in its team's quarantine repository ({build.quarantine_repository!r}); "
                         "nothing was published.")


def image_publish(*, build: Build, actor) -> str:
    """Copy the quarantined image to the publication repository if, and only if, its verdict
    passed and is current for the latest vulnerability database import and today's rules.

    `actor` None is the build's own pipeline; a person must be a member of the owning team
    (PermissionDenied otherwise: reviewers and admins of other teams may read, not publish)."""
    if actor is not None and not Membership.objects.filter(user=actor, team=build.team_id).exists():
        raise PermissionDenied("Only members of the owning team may publish this image.")
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
        try:  # before anything is written: an image the portal cannot sign is not published
            key = active_signer()
        except SigningUnavailable as error:
            raise GateClosed(f"The portal cannot sign images ({error}); nothing was published.")
        client, tag = registry_client("gate"), version_tag(build)
        client.authorize(f"repository:{repository}:pull,push", f"repository:{build.quarantine_repository}:pull")
        existing = client.manifest_digest(repository, tag)
        if existing is not None and existing != build.digest:
            raise GateClosed(f"The published tag {repository}:{tag} already holds {existing}; a version tag never moves.")
        # Signed and attested before `latest` moves and before the build says it is published; if the
        # registry fails here, the publication is retried whole (the version tag holds the same digest).
        # The copy and the attachments overlap, both from the manifest read here; no tag naming an
        # attachment is written before the copy is done and checked.
        source = client.manifest_bytes(build.quarantine_repository, build.digest)
        with RequestBatch() as batch:
            copying = batch.submit(_copy_checked, client, build, repository, tag, source)
            image_attest(build=build, verdict_row=verdict, repository=repository, key=key, client=client,
                         subject=source, image_written=copying, batch=batch)
            body, media_type, digest = copying.result()
        if not _newer_published(build):  # `latest` follows the newest passing build, never back to an older one
            client.put_manifest(repository, "latest", body, media_type)  # the copy put every blob there already
        build.published_reference = f"{registry_host()}/{repository}:{tag}@{digest}"
        build.published_at = timezone.now()
        build.save(update_fields=["published_reference", "published_at"])
        audit_record(actor=actor, action="image.published", target=build, team=build.team,
                     reference=build.published_reference, verdict=verdict.pk)
    return build.published_reference

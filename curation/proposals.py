"""Custom base images: a published image is proposed as a base, and a platform admin approves it.

A proposed base waits in "pending" (not selectable, not counted by the approved-base rule). On
approval it is pinned by the digest that passed the gate and the layer list read from the
registry, so images built FROM it pass the approved-base rule by layer prefix like any base.
"""
import re

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from adapters.factory import registry_client
from adapters.registry import RegistryError
from builds.models import Build
from catalog.models import BaseImage, Lifecycle, ProposalState
from compliance.gate import publication_repository, version_tag
from compliance.policy.currency import verdict_make_current
from portal.audit import audit_record
from portal.rbac import is_platform_admin, require_team_member

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,49}")


class ProposalError(ValueError):
    """The proposal or the review is refused; the message says why."""


def _layers(repository: str, digest: str) -> list[str]:
    """The image's layers as the registry holds them at exactly this digest."""
    try:
        manifest, found = registry_client("scanner").manifest(repository, digest)
    except RegistryError as error:
        raise ProposalError(f"The image {repository}@{digest} cannot be read from the registry: {error}")
    if found != digest:
        raise ProposalError(f"The registry answers {found} for {repository}@{digest}.")
    return [layer["digest"] for layer in manifest["layers"]]


@transaction.atomic
def base_propose(*, user, build: Build, slug: str, name: str, description: str = "") -> BaseImage:
    """Propose a published image as a custom base image (pending until a platform admin approves)."""
    require_team_member(user, build.team)
    if not SLUG.fullmatch(slug or ""):
        raise ProposalError("Give the base a slug: lower-case letters, digits and '-' (at most 50).")
    if not (name or "").strip() or len(name) > 100:
        raise ProposalError("Give the base a name of at most 100 characters.")
    if not build.published_reference:
        raise ProposalError("Only a published image (one that passed the policy) can be proposed as a base.")
    if BaseImage.objects.filter(slug=slug).exists():
        raise ProposalError(f"There is already a base image {slug}.")
    existing = BaseImage.objects.filter(digest=build.digest).exclude(proposal_state=ProposalState.REJECTED).first()
    if existing is not None:
        raise ProposalError(f"This image is already the base image {existing.slug}.")
    repository = publication_repository(build)
    source = build.recipe.base  # the image is derived from it, so it shares its OS
    base = BaseImage.objects.create(
        slug=slug, name=name.strip(), repository=repository, tag=version_tag(build), digest=build.digest,
        layer_digests=_layers(repository, build.digest), os_family=source.os_family, os_release=source.os_release,
        approved=False, lifecycle=Lifecycle.PUBLISHED, description=description[:2000],
        proposal_state=ProposalState.PENDING, source_build=build, proposed_by=user,
    )
    audit_record(actor=user, action="catalog.baseimage.proposed", target=base, team=build.team,
                 build=build.pk, reference=f"{repository}@{build.digest}")
    return base


def base_reviewer_required(user) -> None:
    """Only platform admins decide proposals (the API asks before it reads the request's body)."""
    if not is_platform_admin(user):
        raise PermissionDenied("Only platform admins approve or reject base images.")


def _review_check(user, base: BaseImage) -> None:
    base_reviewer_required(user)
    if not base.pending:
        raise ProposalError(f"Base image {base.slug} is not pending review.")


@transaction.atomic
def base_approve(*, user, base: BaseImage) -> BaseImage:
    """Make a pending base selectable, pinned by digest and by the layers the registry reports now."""
    base = BaseImage.objects.select_for_update().get(pk=base.pk)
    _review_check(user, base)
    if base.source_build:
        # Its layers become approved ones, which the privilege rules no longer look into: the verdict
        # must be today's (a verdict from before the privilege rules could hide a setuid shell there).
        verdict_make_current(base.source_build)
    verdict = base.source_build.verdicts.order_by("-created").first() if base.source_build else None
    if verdict is None or not verdict.passed:
        reasons = "; ".join(f"{r['title']}: {r['message']}" for r in verdict.failures[:3]) if verdict else ""
        raise ProposalError(f"The image behind {base.slug} no longer passes the policy; it cannot become a base."
                            + (f" {reasons}" if reasons else ""))
    base.layer_digests = _layers(base.repository, base.digest)
    base.approved, base.proposal_state = True, ProposalState.APPROVED
    base.reviewed_by, base.reviewed_at = user, timezone.now()
    base.save()
    audit_record(actor=user, action="catalog.baseimage.approved", target=base, team=getattr(base.source_build, "team", None),
                 reference=f"{base.repository}@{base.digest}", layers=len(base.layer_digests))
    return base


@transaction.atomic
def base_reject(*, user, base: BaseImage, reason: str = "") -> BaseImage:
    base = BaseImage.objects.select_for_update().get(pk=base.pk)
    _review_check(user, base)
    base.approved, base.proposal_state, base.lifecycle = False, ProposalState.REJECTED, Lifecycle.RETIRED
    base.reviewed_by, base.reviewed_at = user, timezone.now()
    base.save()
    audit_record(actor=user, action="catalog.baseimage.rejected", target=base, team=getattr(base.source_build, "team", None),
                 reason=reason[:500])
    return base

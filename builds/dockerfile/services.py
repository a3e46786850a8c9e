"""Writes for recipes of kind "dockerfile": a team's own Dockerfile, a context archive and build
arguments. Saved only when every image the Dockerfile starts from is an approved base; each build
resolves it again against the catalog of that moment, so a base withdrawn since is refused.
"""
import hashlib
import json

from django.conf import settings
from django.db import transaction

from adapters.factory import registry_host
from builds.archive.package import ArchiveError, ArchiveLimits, archive_inspect
from builds.compose.composer import artifact_filename_check
from builds.dockerfile.args import ARG_NAME
from builds.dockerfile.image_reference import CatalogBase, pinned
from builds.dockerfile.resolve import DockerfileRefused, ResolveContext, ResolvedDockerfile, dockerfile_resolve
from builds.errors import CompositionError
from builds.models import Recipe
from builds.plan import BuildPlan
from builds.recipes.names import recipe_name_check
from builds.recipes.runtime import runtime_snapshot
from catalog.models import BaseImage, ProposalState
from catalog.parameters import PRIVATE_KEY_REFUSED, private_key_found
from compliance.door import ExpectedCheck, dockerfile_checks_expected
from portal.audit import audit_record
from portal.rbac import require_team_member

DOCKERFILE_NAME = ".portal.Dockerfile"  # our name in the context, so the archive may hold its own "Dockerfile"


class DockerfileError(CompositionError):
    """A refused Dockerfile, with the per-line errors the form and the API show."""

    def __init__(self, refused: DockerfileRefused):
        super().__init__(f"The Dockerfile was refused: {refused}", {"dockerfile": str(refused)})
        self.lines = [{"line": e.line, "message": e.message} for e in refused.errors]


def dockerfile_catalog() -> list[CatalogBase]:
    """Every pinned base, with whether it may be used (a deprecated one still builds until it is
    retired) and, if not, why (for the message)."""
    return [CatalogBase(b.slug, b.repository, b.tag, b.digest, b.usable, _why_not_usable(b))
            for b in BaseImage.objects.exclude(digest="")]


def _why_not_usable(base: BaseImage) -> str:
    if base.usable:
        return ""
    if base.proposal_state in (ProposalState.PENDING, ProposalState.REJECTED):
        return "pending review" if base.pending else "rejected"
    return "not approved" if not base.approved else base.get_lifecycle_display().lower()


def build_args_check(build_args: dict) -> None:
    """Build arguments reach the image's history: no private key may be one (nor be stored)."""
    keys = sorted(name for name, value in build_args.items() if private_key_found(str(value)))
    if keys:
        raise CompositionError(f"Build argument {', '.join(keys)}: {PRIVATE_KEY_REFUSED}",
                               {"build_args": f"{', '.join(keys)}: a private key"})


def dockerfile_check(*, dockerfile: str, build_args: dict) -> ResolvedDockerfile:
    """The Dockerfile pinned to the catalog, or DockerfileError with every problem by line."""
    build_args_check(build_args)
    context = ResolveContext(bases=dockerfile_catalog(), registry_host=registry_host(),
                             platform=settings.BUILD_ENGINE_PLATFORM.lower(), max_bytes=settings.DOCKERFILE_MAX_BYTES)
    try:
        return dockerfile_resolve(dockerfile, build_args=build_args, context=context)
    except DockerfileRefused as refused:
        raise DockerfileError(refused)


def dockerfile_expected(*, team, resolved: ResolvedDockerfile, build_args: dict, runtime: dict) -> list[ExpectedCheck]:
    """What the policy will say of the image a resolved Dockerfile makes, before it is saved or
    built (the form's checks, and its question before a build the policy will block)."""
    base = BaseImage.objects.get(slug=resolved.final_base_slug)
    return dockerfile_checks_expected(team=team, base=base, dockerfile=resolved.dockerfile, build_args=build_args,
                                      runtime=runtime)


def build_args_parse(text: str) -> dict[str, str]:
    """`NAME=value` lines (the form's textarea) as a dict; blank lines and `#` comments ignored."""
    parsed = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, has_value, value = line.partition("=")
        name = name.strip()
        if not has_value or not ARG_NAME.fullmatch(name):
            raise CompositionError(f"Build arguments, line {number}: write NAME=value (letters, digits and '_' in NAME).",
                                   {"build_args": f"line {number}: write NAME=value"})
        if name in parsed:
            raise CompositionError(f"Build argument {name} is given twice.", {"build_args": f"{name} is given twice"})
        parsed[name] = value
    return parsed


def context_limits() -> ArchiveLimits:
    return ArchiveLimits(max_archive_size=settings.ARTIFACT_MAX_BYTES, max_total_size=settings.CONTEXT_MAX_BYTES)


def context_check(upload) -> tuple[str, str]:
    """(safe name, sha256) of an uploaded context archive, checked as hostile input."""
    name = upload.name.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        artifact_filename_check(name)
        info = archive_inspect(upload, filename=name, limits=context_limits())
    except (CompositionError, ArchiveError) as error:
        raise CompositionError(f"The build context was refused: {error}", {"context": str(error)})
    finally:
        upload.seek(0)
    if any(m.name == DOCKERFILE_NAME or m.name.startswith(DOCKERFILE_NAME + "/") for m in info.members):
        raise CompositionError(f"The context may not contain {DOCKERFILE_NAME}; the portal writes it.",
                               {"context": f"{DOCKERFILE_NAME} is reserved"})
    return name, info.sha256


@transaction.atomic
def recipe_save_dockerfile(*, user, team, name: str, dockerfile: str, build_args: dict, context=None,
                           recipe: Recipe | None = None) -> Recipe:
    """Create or update a Dockerfile recipe after resolving every FROM against the catalog."""
    require_team_member(user, team)
    if recipe is not None and recipe.kind != Recipe.Kind.DOCKERFILE:
        raise CompositionError("This recipe is composed from options; it cannot become a Dockerfile recipe.",
                               {"recipe": "composed recipe"})
    resolved = dockerfile_check(dockerfile=dockerfile, build_args=build_args)
    context_name, context_sha256 = context_check(context) if context is not None else ("", "")
    if recipe is None:
        recipe_name_check(team=team, name=name)
        recipe = Recipe(team=team, name=name, created_by=user, kind=Recipe.Kind.DOCKERFILE)
    # The final stage's base stands for the recipe in the catalog's "used by" lists and rebuilds.
    recipe.base = BaseImage.objects.get(slug=resolved.final_base_slug)
    recipe.dockerfile = dockerfile.replace("\r\n", "\n")
    recipe.build_args = dict(build_args)
    if context is not None:
        recipe.context.save(context_name, context, save=False)
        recipe.context_name, recipe.context_sha256 = context_name, context_sha256
    recipe.save()
    audit_record(actor=user, action="recipe.saved", target=recipe, team=team, kind=recipe.kind,
                 bases=list(resolved.bases), context_sha256=recipe.context_sha256, build_args=sorted(build_args))
    return recipe


def dockerfile_plan(recipe: Recipe) -> BuildPlan:
    """The planner of Dockerfile recipes: resolve the Dockerfile against the catalog again and pin it.

    The hash covers exactly what decides the image: the pinned Dockerfile, the context bytes and
    the build arguments, so an identical submission reuses the earlier image."""
    resolved = dockerfile_check(dockerfile=recipe.dockerfile, build_args=recipe.build_args)
    digest = hashlib.sha256()
    for part in (resolved.dockerfile, recipe.context_sha256, json.dumps(recipe.build_args, sort_keys=True)):
        digest.update(part.encode() + b"\0")
    bases = {b.slug: b for b in BaseImage.objects.filter(slug__in=resolved.bases)}
    snapshot = {
        "kind": Recipe.Kind.DOCKERFILE,
        "base_reference": pinned(_catalog_base(bases[resolved.final_base_slug]), registry_host()),
        "submitted_dockerfile": recipe.dockerfile,
        "build_args": dict(recipe.build_args),
        "context": {"filename": recipe.context_name, "sha256": recipe.context_sha256, "path": recipe.context.name}
        if recipe.context_sha256 else None,
        "stages": [{"index": s.index, "name": s.name, "line": s.line, "base": s.base_slug, "from": s.source}
                   for s in resolved.stages],
        "bases": {slug: f"{b.repository}@{b.digest}" for slug, b in bases.items()},
        "runtime": runtime_snapshot(recipe),  # read by the runtime-privileges rule, as for composed recipes
    }
    return BuildPlan(snapshot=snapshot, dockerfile=resolved.dockerfile, composition_sha256=digest.hexdigest())


def _catalog_base(base: BaseImage) -> CatalogBase:
    return CatalogBase(base.slug, base.repository, base.tag, base.digest, base.usable)

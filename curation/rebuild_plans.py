"""Rebuilding every recipe that uses a base image or a component: plan, dry run, then run.

The plan lists the impact (each recipe using the subject, its team, the version it has and the one
it would get, its current image and that image's verdict) in dependency order; the dry run
composes each recipe with the change and rolls it back; the run keeps a batch (curation.models)
whose items request their builds through builds.services.build_request, like any build, and
record why (`Build.reason`, e.g. "component wget 1 -> 2 by alice"). Pages, API and the Django
admin's actions all come here, and only platform admins may.
"""
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import transaction

from builds.errors import CompositionError
from builds.models import Build, Recipe, RecipeComponent
from builds.recipes.names import recipe_buildable_check
from builds.services import PLANNERS, build_request
from catalog.models import BaseImage, Component, ComponentVersion
from compliance.selectors import current_images
from curation.models import RebuildBatch, RebuildItem, RebuildMode
from curation.usage import recipes_using_base, recipes_using_component
from portal.audit import audit_record
from portal.models import Team
from portal.rbac import is_platform_admin


class RebuildError(ValueError):
    """The rebuild cannot be planned or the item cannot be retried; the message says why."""


def rebuild_planner_required(user) -> None:
    if not is_platform_admin(user):
        raise PermissionDenied("Only platform admins plan and run rebuilds; ask one of them.")


@dataclass(frozen=True)
class RebuildSubject:
    """A base image, or a component (moved to `target` first when one is given)."""

    base: BaseImage | None = None
    component: Component | None = None
    target: ComponentVersion | None = None

    @property
    def label(self) -> str:
        if self.base is not None:
            return f"base {self.base.name}"
        return f"component {self.component.name}" + (f" (move to {self.target.version})" if self.target else "")

    def recipes(self):
        found = recipes_using_base(self.base) if self.base is not None else recipes_using_component(self.component)
        return found.select_related("team", "base__source_build", "build_base__source_build")


def rebuild_subject(*, base: str = "", component: str = "", upgrade: bool = False) -> RebuildSubject:
    """The subject named by slug (exactly one of base and component); `upgrade` moves a component's
    recipes to its latest published version."""
    if bool(base) == bool(component):
        raise RebuildError("Name either a base image or a component to rebuild.")
    if base:
        found = BaseImage.objects.filter(slug=base).first()
        if found is None:
            raise RebuildError(f"There is no base image {base}.")
        if upgrade:
            raise RebuildError("Only a component can be moved to its latest version; a base is rebuilt at its pinned digest.")
        return RebuildSubject(base=found)
    found = Component.objects.filter(slug=component).first()
    if found is None:
        raise RebuildError(f"There is no component {component}.")
    target = found.latest_version() if upgrade else None
    if upgrade and target is None:
        raise RebuildError(f"Component {found.name} has no published version to move to.")
    return RebuildSubject(component=found, target=target)


def _batch_subject(batch: RebuildBatch) -> RebuildSubject:
    return RebuildSubject(base=batch.base, component=batch.component, target=batch.target_version)


@dataclass
class PlannedRecipe:
    recipe: Recipe
    from_version: str
    to_version: str
    image: Build | None  # the current image (latest successful build), with verdict_passed annotated
    verdict_state: str  # pass, blocked, not evaluated, no image
    after: list[Recipe] = field(default_factory=list)  # recipes of the plan whose image this one starts FROM
    skip_reason: str = ""
    dry_run: str = ""  # "" (not run), "would build", "would fail"
    dry_run_detail: str = ""

    @property
    def skipped(self) -> bool:
        return bool(self.skip_reason)


@dataclass
class RebuildPlan:
    subject: RebuildSubject
    mode: str
    recipes: list[PlannedRecipe]

    @property
    def counts(self) -> dict:
        return {"recipes": len(self.recipes), "skipped": sum(p.skipped for p in self.recipes),
                "would_build": sum(p.dry_run == "would build" for p in self.recipes),
                "would_fail": sum(p.dry_run == "would fail" for p in self.recipes)}


def _short(digest: str) -> str:
    return digest[:19] if digest else "unpinned"


def _versions(subject: RebuildSubject, recipe: Recipe, image: Build | None) -> tuple[str, str]:
    """What the recipe has of the subject now, and what it would be built with."""
    if subject.base is not None:
        snapshot = image.snapshot if image else {}
        if recipe.base_id != subject.base.pk:  # used for its build stage only
            snapshot = snapshot.get("build_stage") or {}
        built_from = (snapshot.get("base_reference") or "").rpartition("@")[2]
        return (_short(built_from) if built_from else "not built"), _short(subject.base.digest)
    choice = RecipeComponent.objects.filter(recipe=recipe, version__component=subject.component).select_related("version").first()
    current = choice.version.version if choice else ""
    return current, (subject.target.version if subject.target else current)


def _verdict_state(image: Build | None) -> str:
    if image is None:
        return "no image"
    return {True: "pass", False: "blocked", None: "not evaluated"}[image.verdict_passed]


def _skip_reason(mode: str, planned: PlannedRecipe) -> str:
    if mode != RebuildMode.PASSING or planned.verdict_state == "pass":
        return ""
    image = planned.image
    return {"blocked": f"its current image (build #{image.pk if image else ''}) is blocked by policy",
            "not evaluated": f"its current image (build #{image.pk if image else ''}) has no verdict yet",
            "no image": "it has no current image to judge (never built successfully)"}[planned.verdict_state]


def _in_dependency_order(planned: list[PlannedRecipe]) -> list[PlannedRecipe]:
    """Recipes whose base (or build-stage base) is a custom base published by another recipe of the
    plan come after that recipe; otherwise by team and name, so the order is stable."""
    by_recipe = {p.recipe.pk: p for p in planned}
    for p in planned:
        sources = [b.source_build.recipe_id for b in (p.recipe.base, p.recipe.build_base) if b is not None and b.source_build]
        p.after = [by_recipe[pk].recipe for pk in dict.fromkeys(sources) if pk in by_recipe and pk != p.recipe.pk]
    waiting = sorted(planned, key=lambda p: (p.recipe.team.slug, p.recipe.name))
    ordered, placed = [], set()
    while waiting:
        ready = next((p for p in waiting if all(r.pk in placed for r in p.after)), waiting[0])  # waiting[0]: a cycle
        ordered.append(ready)
        placed.add(ready.recipe.pk)
        waiting.remove(ready)
    return ordered


def rebuild_plan(*, user, subject: RebuildSubject, mode: str = RebuildMode.ALL) -> RebuildPlan:
    """The impact of rebuilding `subject`: every recipe using it, in dependency order, with the
    recipes `mode` leaves out marked skipped and why. Reads only."""
    rebuild_planner_required(user)
    if mode not in RebuildMode.values:
        raise RebuildError(f"Unknown mode {mode!r}: choose {' or '.join(RebuildMode.values)}.")
    recipes = list(subject.recipes())
    teams = Team.objects.filter(pk__in={r.team_id for r in recipes})
    images = {b.recipe_id: b for b in current_images(teams).filter(recipe__in=recipes)}
    planned = []
    for recipe in recipes:
        image = images.get(recipe.pk)
        from_version, to_version = _versions(subject, recipe, image)
        planned.append(PlannedRecipe(recipe=recipe, from_version=from_version, to_version=to_version, image=image,
                                     verdict_state=_verdict_state(image)))
    for p in planned:
        p.skip_reason = _skip_reason(mode, p)
    return RebuildPlan(subject=subject, mode=mode, recipes=_in_dependency_order(planned))


def _recipe_move(recipe: Recipe, target: ComponentVersion | None) -> bool:
    """Point the recipe's choice of the target's component at the target version (values kept)."""
    if target is None:
        return False
    moved = RecipeComponent.objects.filter(recipe=recipe, version__component_id=target.component_id).exclude(version=target)
    return moved.update(version=target) > 0


class _RolledBack(Exception):
    pass


def _compose_check(recipe: Recipe, target: ComponentVersion | None) -> None:
    """Compose the recipe with the change (CompositionError when it no longer composes), then undo
    the change: a savepoint rolled back, so the dry run leaves the database as it was."""
    try:
        with transaction.atomic():
            _recipe_move(recipe, target)
            recipe_buildable_check(recipe)
            PLANNERS[recipe.kind](Recipe.objects.select_related("team", "base", "build_base").get(pk=recipe.pk))
            raise _RolledBack
    except _RolledBack:
        pass


def _why_not(error: CompositionError) -> str:
    """The composer's message with the fields it names ("runtime-user: uid: must be ..."), which say
    what to fix; a message that starts with its parameter's name is not given it twice."""
    def field(name: str, message: str) -> str:
        component, _, parameter = name.rpartition(".")
        return f"{component}: {message}" if component and message.startswith(f"{parameter}:") else f"{name}: {message}"
    fields = "; ".join(field(name, message) for name, message in error.errors.items() if message not in str(error))
    return f"{error} {fields}" if fields else str(error)


def rebuild_dry_run(*, user, plan: RebuildPlan) -> RebuildPlan:
    """Compose every recipe the plan would build, building nothing and changing nothing; each says
    "would build" or "would fail" with the composer's reason."""
    rebuild_planner_required(user)
    for p in plan.recipes:
        if p.skipped:
            continue
        try:
            _compose_check(p.recipe, plan.subject.target)
            p.dry_run, p.dry_run_detail = "would build", ""
        except CompositionError as error:
            p.dry_run, p.dry_run_detail = "would fail", _why_not(error)
    return plan


def _build_reason(subject: RebuildSubject, item: RebuildItem, user) -> str:
    if subject.base is not None:
        return f"base {subject.base.name} rebuilt by {user}"
    if item.from_version != item.to_version:
        return f"component {subject.component.name} {item.from_version} -> {item.to_version} by {user}"
    return f"component {subject.component.name} {item.to_version} rebuilt by {user}"


def _item_request(item: RebuildItem, subject: RebuildSubject, user) -> RebuildItem:
    """Move the recipe (when the batch moves it) and request its build, both or neither: a recipe
    that no longer composes keeps its version and is marked failed to compose."""
    item.attempts += 1
    try:
        with transaction.atomic():
            moved = _recipe_move(item.recipe, subject.target)
            recipe = Recipe.objects.select_related("team", "base", "build_base").get(pk=item.recipe_id)
            # A recipe the batch does not change is rebuilt for what the build fetches (fresh packages):
            # without no_cache its published build would answer the request and nothing would be built.
            item.build = build_request(user=user, recipe=recipe, reason=_build_reason(subject, item, user),
                                       no_cache=not moved)
            item.state, item.detail = RebuildItem.Status.REQUESTED, ""
    except CompositionError as error:
        item.state, item.detail = RebuildItem.Status.COMPOSE_FAILED, _why_not(error)
        item.build = None
    item.save(update_fields=["build", "state", "detail", "attempts"])
    return item


def rebuild_run(*, user, subject: RebuildSubject, mode: str = RebuildMode.ALL) -> RebuildBatch:
    """Plan again (what is true now, not what a page showed earlier), keep the batch and its items,
    then request each build in dependency order."""
    plan = rebuild_plan(user=user, subject=subject, mode=mode)
    if not plan.recipes:
        raise RebuildError(f"No recipe uses {subject.label}: there is nothing to rebuild.")
    with transaction.atomic():
        batch = RebuildBatch.objects.create(base=subject.base, component=subject.component, target_version=subject.target,
                                            mode=mode, requested_by=user)
        items = RebuildItem.objects.bulk_create([
            RebuildItem(batch=batch, recipe=p.recipe, position=n, from_version=p.from_version[:100], to_version=p.to_version[:100],
                        state=RebuildItem.Status.SKIPPED if p.skipped else RebuildItem.Status.PLANNED, detail=p.skip_reason)
            for n, p in enumerate(plan.recipes)])
    for item in items:
        if item.state == RebuildItem.Status.PLANNED:
            _item_request(item, subject, user)
    counts = batch_counts(items)
    audit_record(actor=user, action="curation.rebuild.run", target=batch, subject=subject.label, mode=mode,
                 builds=[i.build_id for i in items if i.build_id], **{k: v for k, v in counts.items() if v})
    return batch


def rebuild_item_retry(*, user, item: RebuildItem) -> RebuildItem:
    """Request a new build for an item that failed to compose or whose build failed."""
    rebuild_planner_required(user)
    item = RebuildItem.objects.select_related("batch__base", "batch__component", "batch__target_version", "build",
                                              "recipe__team").get(pk=item.pk)
    if not item.retryable:
        raise RebuildError(f"{item.recipe} is {item.status_label.lower()}; only a recipe that failed to compose or whose "
                           "build failed can be retried.")
    failed_build = item.build_id
    _item_request(item, _batch_subject(item.batch), user)
    audit_record(actor=user, action="curation.rebuild.retried", target=item.batch, team=item.recipe.team,
                 recipe=item.recipe_id, failed_build=failed_build, build=item.build_id, status=item.status)
    return item


def batch_items(batch: RebuildBatch) -> list[RebuildItem]:
    """The items with their builds and recipes loaded: statuses read from the builds as they are now."""
    return list(batch.items.select_related("recipe__team", "build").defer(
        "build__snapshot", "build__dockerfile", "build__script_stage", "build__build_stage", "build__context_files"))


def batch_counts(items) -> dict:
    """How many items are in each status (every status listed, 0 when none)."""
    counts = dict.fromkeys(RebuildItem.Status.values, 0)
    for item in items:
        counts[item.status] += 1
    return counts


def batch_settled(items) -> bool:
    """Nothing in the batch will change without someone acting: its page stops polling."""
    return all(item.status in RebuildItem.SETTLED for item in items)


def rebuild_batches():
    return RebuildBatch.objects.select_related("base", "component", "target_version", "requested_by")

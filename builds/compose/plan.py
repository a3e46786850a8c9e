"""The planner of composed recipes: check what the recipe uses is still allowed, snapshot its
rows and compose them (builds.services.build_request records the plan)."""
from builds.compose.composer import compose
from builds.compose.snapshot import base_usable_check, recipe_snapshot, snapshot_as_dict
from builds.errors import CompositionError
from builds.models import Recipe
from builds.plan import BuildPlan
from builds.recipes.runtime import runtime_snapshot
from builds.team_scripts.build_settings import package_findings_in_use
from builds.team_scripts.packages import package_blocking


def composed_plan(recipe: Recipe) -> BuildPlan:
    base_usable_check(recipe.base)  # before the package's scripts are read: the first thing to fix
    if recipe.build_base_id:
        base_usable_check(recipe.build_base, field="build_base")
    findings = package_findings_in_use(recipe)
    if package_blocking(findings):
        errors = [f"{f['script']} line {f['line']}: {f['message']}" for f in findings if f["severity"] == "error"]
        raise CompositionError("The package's .paas scripts have errors: " + "; ".join(errors[:5]),
                               {"artifact": "script errors"})
    snapshot = recipe_snapshot(recipe)
    composition = compose(snapshot)
    return BuildPlan(
        snapshot={**snapshot_as_dict(snapshot), "runtime": runtime_snapshot(recipe)},
        dockerfile=composition.dockerfile,
        composition_sha256=composition.sha256,
        script_stage=composition.script_stage,
        build_stage=composition.build_stage,
        context_files={path: data.decode() for path, data in composition.context_files.items()},
    )

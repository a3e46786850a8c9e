"""BuildPlan: what a build of a recipe will do, composed when the build is requested and recorded
on its Build row, so later catalog or recipe edits change nothing for it. Each recipe kind has one
planner (builds/compose/plan.py for composed recipes, builds/dockerfile/services.py for own
Dockerfiles); builds.services.build_request is the same for every kind. Pure: no Django."""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BuildPlan:
    snapshot: dict  # what was composed, as JSON: the record, and the worker's instructions
    dockerfile: str
    composition_sha256: str  # identical compositions reuse the earlier image
    script_stage: str = ""  # Dockerfile running the team's .paas/image-env.sh (composed recipes)
    build_stage: str = ""  # Dockerfile of the build stage (composed recipes)
    context_files: dict[str, str] = field(default_factory=dict)  # path -> text of extra context files

"""Recipes (a team's saved composition) and builds (one run of a recipe, with its log)."""
from django.conf import settings
from django.db import models

from adapters.registry_names import IMAGE_NAME_MAX
from catalog.models import BaseImage, ComponentVersion
from portal.models import RegistryNameGuard, Team, validate_image_name


class Recipe(RegistryNameGuard, models.Model):
    """Base image + ticked components with parameters + an optional artifact file, or (kind
    "dockerfile") a team's own Dockerfile, a context archive and build arguments."""

    class Kind(models.TextChoices):
        COMPOSED = "composed", "Composed from catalog options"
        DOCKERFILE = "dockerfile", "Own Dockerfile"

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="recipes")
    name = models.CharField(max_length=IMAGE_NAME_MAX, validators=[validate_image_name],
                            help_text="Image name within the team, e.g. pay-api: part of the image's registry path")
    base = models.ForeignKey(BaseImage, on_delete=models.PROTECT, related_name="recipes")
    artifact = models.FileField(upload_to="artifacts/%Y/%m/", blank=True)
    artifact_name = models.CharField(max_length=128, blank=True)
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    script_findings = models.JSONField(default=list, blank=True, help_text="Checks of the package's .paas scripts")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.COMPOSED)
    dockerfile = models.TextField(blank=True, help_text="The team's Dockerfile as submitted (kind dockerfile)")
    build_args = models.JSONField(default=dict, blank=True, help_text="Build arguments (kind dockerfile)")
    context = models.FileField(upload_to="contexts/%Y/%m/", blank=True, help_text="Build context archive (kind dockerfile)")
    context_name = models.CharField(max_length=128, blank=True)
    context_sha256 = models.CharField(max_length=64, blank=True)
    build_command = models.JSONField(default=list, blank=True, help_text="argv of the team's build command; text runs as sh -c")
    build_output = models.CharField(max_length=512, blank=True, help_text="Path of the build output in the project; empty: all of it")
    build_base = models.ForeignKey(BaseImage, null=True, blank=True, on_delete=models.PROTECT, related_name="build_recipes",
                                   help_text="Base of the build stage; empty: the recipe's base")
    shared_build_script = models.ForeignKey("TeamScript", null=True, blank=True, on_delete=models.PROTECT,
                                            related_name="build_recipes", help_text="Used instead of the package's build-env.sh")
    shared_image_script = models.ForeignKey("TeamScript", null=True, blank=True, on_delete=models.PROTECT,
                                            related_name="image_recipes", help_text="Used instead of the package's image-env.sh")
    # How the image is meant to run; recorded on each build and checked by the runtime-privileges rule.
    privileged = models.BooleanField(default=False, help_text="Run the container in privileged mode")
    cap_add = models.JSONField(default=list, blank=True, help_text="Linux capabilities to add, e.g. [\"NET_BIND_SERVICE\"]")
    visible_to_other_teams = models.BooleanField(
        default=False, help_text="Other teams' robots and members may pull this image's published versions")
    unbuildable_reason = models.TextField(
        blank=True, help_text="Set when the recipe may not be built (e.g. a name from before the name rule); builds are refused")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    registry_name_field, registry_name_what = "name", "image name"

    class Meta:
        ordering = ["team", "name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="unique_recipe_name_per_team")]

    def __str__(self):
        return f"{self.team.slug}/{self.name}"


class RecipeComponent(models.Model):
    recipe = models.ForeignKey(Recipe, on_delete=models.CASCADE, related_name="choices")
    version = models.ForeignKey(ComponentVersion, on_delete=models.PROTECT, related_name="recipe_choices")
    values = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["recipe", "version"], name="one_choice_per_version")]


class Build(models.Model):
    """One run of a recipe. The composition is snapshotted here, so later catalog edits change nothing."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    STEPS = ["compose", "build", "push", "scan", "policy", "publish"]
    # Failures due only to a registry that could not be reached: retried once when it answers again.
    REGISTRY_UNREACHABLE = ("build:app:registry-unreachable", "publish:app:registry-unreachable")
    DONE = {Status.SUCCEEDED, Status.FAILED, Status.CANCELLED}

    recipe = models.ForeignKey(Recipe, on_delete=models.PROTECT, related_name="builds")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="builds")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=300, blank=True,
                              help_text="Why it was requested when not by its team, e.g. a platform admin's rebuild of every recipe on a base")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    current_step = models.CharField(max_length=20, blank=True)
    steps = models.JSONField(default=dict, blank=True, help_text="step -> {status, started, finished}")
    snapshot = models.JSONField(default=dict, help_text="What was composed, for the record")
    dockerfile = models.TextField()
    script_stage = models.TextField(blank=True, help_text="Second Dockerfile running the team's .paas/image-env.sh")
    build_stage = models.TextField(blank=True, help_text="Dockerfile of the build stage (package, build-env.sh, build command)")
    context_files = models.JSONField(default=dict, blank=True, help_text="path -> text of extra context files")
    composition_sha256 = models.CharField(max_length=64)
    cancel_requested = models.BooleanField(default=False)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the process running it")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker started this build")
    auto_retried = models.BooleanField(default=False, help_text="Queued again once by the portal after a registry outage")
    reused_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    help_text="An earlier build of the identical composition whose image this reuses")
    no_cache = models.BooleanField(default=False, help_text="Rebuild every step instead of reusing cached layers")
    image_id = models.CharField(max_length=100, blank=True)
    quarantine_repository = models.CharField(max_length=200, blank=True)
    quarantine_tag = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=80, blank=True)
    published_reference = models.CharField(max_length=300, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=60, blank=True, help_text="e.g. build:user:step-failed")
    error_message = models.TextField(blank=True)
    failed_step = models.TextField(blank=True, help_text="The Dockerfile step that failed")
    log_lines = models.PositiveIntegerField(default=0)
    log_bytes = models.PositiveBigIntegerField(default=0)
    log_dropped_lines = models.PositiveIntegerField(default=0, help_text="Oldest lines dropped to stay under the cap")
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return f"build {self.pk} of {self.recipe}"

    @property
    def is_done(self) -> bool:
        return self.status in self.DONE

    @property
    def quarantine_reference(self) -> str:
        if not self.quarantine_repository:
            return ""
        return f"{self.quarantine_repository}:{self.quarantine_tag}"


class WorkerHeartbeat(models.Model):
    """A Celery worker that is (or was) alive: written every WORKER_HEARTBEAT_SECONDS by a thread
    of the worker's main process, removed when it shuts down cleanly. A row not written for
    WORKER_STALE_SECONDS is a worker that died (kill -9, its host went away)."""

    node = models.CharField(max_length=200, unique=True, help_text="Celery node name, name@host")
    pid = models.PositiveIntegerField(help_text="Process id of the worker's main process")
    queues = models.JSONField(default=list, help_text="The queues it consumes from now")
    concurrency = models.PositiveSmallIntegerField(default=0)
    active_builds = models.JSONField(default=list, help_text="Ids of the builds its pool runs now")
    started = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["node"]

    def __str__(self):
        return self.node


class ReaperPass(models.Model):
    """When the reaper last ran (one row). A pass after a long gap (the database was down, or no
    worker ran the reaper) does not trust heartbeats' silence yet: nobody could write them."""

    last_pass = models.DateTimeField()


class BuildLogChunk(models.Model):
    """Log lines appended while the build runs, so the page shows them live and nothing is lost."""

    build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="log_chunks")
    seq = models.PositiveIntegerField()
    first_line = models.PositiveIntegerField()
    step = models.CharField(max_length=20)
    text = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["build", "seq"]
        constraints = [models.UniqueConstraint(fields=["build", "seq"], name="unique_chunk_seq")]


class TeamScript(models.Model):
    """A `.paas` script a team shares between recipes instead of each package carrying a copy.

    Its text lives in immutable versions: a recipe uses the latest one, and each build records the
    version and checksum it ran, so an earlier build's meaning never changes."""

    class Kind(models.TextChoices):
        BUILD_ENV = "build-env", ".paas/build-env.sh"
        IMAGE_ENV = "image-env", ".paas/image-env.sh"

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="scripts")
    name = models.SlugField(max_length=60, help_text="e.g. maven-settings")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="unique_script_name_per_team")]

    def __str__(self):
        return f"{self.team.slug}/{self.name}"

    @property
    def latest(self) -> "TeamScriptVersion | None":
        return self.versions.order_by("-number").first()


class TeamScriptVersion(models.Model):
    """One text of a shared script, never edited; saved only when the script checks found no error."""

    script = models.ForeignKey(TeamScript, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    text = models.TextField()
    sha256 = models.CharField(max_length=64)
    findings = models.JSONField(default=list, blank=True, help_text="Warnings and notes of the script checks")
    note = models.CharField(max_length=200, blank=True, help_text="What changed, e.g. promoted from recipe pay-api")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["script", "-number"]
        constraints = [models.UniqueConstraint(fields=["script", "number"], name="unique_script_version_number")]

    def __str__(self):
        return f"{self.script} v{self.number}"


class PushedLayer(models.Model):
    """Where a layer the builders pushed is in the registry: its diff id (as the engine names it),
    the blob digest it was pushed as and the quarantine repository that holds it. A later build whose
    image has that layer (a shared package layer from the engine's cache) mounts it into its own
    repository before the push, which the engine would otherwise compress and upload again
    (builds/runner/pipeline.py). Written from our own engine and registry only; one row per layer,
    the newest repository kept."""

    diff_id = models.CharField(max_length=80, unique=True)
    digest = models.CharField(max_length=80)
    repository = models.CharField(max_length=300)
    pushed = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.diff_id[:19]} in {self.repository}"

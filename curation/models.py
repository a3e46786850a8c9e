"""Rebuild batches: a platform admin's rebuild of every recipe using a base image or a component,
kept with one row per recipe so its progress and failures can be read (and retried) later.

An item stores only what happened before its build existed (planned, skipped, failed to compose,
requested); once it has a build, its status is read from that build, never copied, so the batch
cannot say "building" about a build that has finished."""
from django.conf import settings
from django.db import models

from builds.models import Build, Recipe
from catalog.models import BaseImage, Component, ComponentVersion


class RebuildMode(models.TextChoices):
    ALL = "all", "All recipes"
    PASSING = "passing", "Only recipes whose current image passes"


class RebuildBatch(models.Model):
    """What was rebuilt (a base, or a component, moved to `target_version` or not), how, by whom."""

    base = models.ForeignKey(BaseImage, null=True, blank=True, on_delete=models.PROTECT, related_name="rebuild_batches")
    component = models.ForeignKey(Component, null=True, blank=True, on_delete=models.PROTECT, related_name="rebuild_batches")
    target_version = models.ForeignKey(ComponentVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                       help_text="The version every recipe was moved to; empty: recipes kept their version")
    mode = models.CharField(max_length=20, choices=RebuildMode.choices, default=RebuildMode.ALL)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [models.CheckConstraint(
            condition=models.Q(base__isnull=True, component__isnull=False) | models.Q(base__isnull=False, component__isnull=True),
            name="rebuild_batch_has_one_subject")]

    def __str__(self):
        return f"rebuild {self.pk} of {self.subject_label}"

    @property
    def subject_label(self) -> str:
        if self.base_id:
            return f"base {self.base.name}"
        moved = f" (moved to {self.target_version.version})" if self.target_version_id else ""
        return f"component {self.component.name}{moved}"


class RebuildItem(models.Model):
    """One recipe of a batch, in dependency order (`position`), with the build it requested."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        SKIPPED = "skipped", "Skipped"
        COMPOSE_FAILED = "compose-failed", "Failed to compose"
        REQUESTED = "requested", "Requested"
        BUILDING = "building", "Building"
        PUBLISHED = "published", "Published"
        BLOCKED = "blocked", "Blocked by policy"
        BUILD_FAILED = "build-failed", "Build failed"

    # Statuses stored on the row; the others are read from the build.
    STORED = {Status.PLANNED, Status.SKIPPED, Status.COMPOSE_FAILED, Status.REQUESTED}
    RETRYABLE = {Status.COMPOSE_FAILED, Status.BUILD_FAILED}
    # Nothing will change any more without someone acting: the page stops polling.
    SETTLED = {Status.SKIPPED, Status.COMPOSE_FAILED, Status.PUBLISHED, Status.BLOCKED, Status.BUILD_FAILED}

    batch = models.ForeignKey(RebuildBatch, on_delete=models.CASCADE, related_name="items")
    recipe = models.ForeignKey(Recipe, on_delete=models.PROTECT, related_name="rebuild_items")
    position = models.PositiveIntegerField(help_text="Order in the batch: after the recipes whose image it starts FROM")
    from_version = models.CharField(max_length=100, blank=True)
    to_version = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=20, choices=Status.choices, default=Status.PLANNED,
                             help_text="Before a build exists (planned, skipped, failed to compose, requested)")
    detail = models.TextField(blank=True, help_text="Why it was skipped or could not be composed")
    build = models.ForeignKey(Build, null=True, blank=True, on_delete=models.PROTECT, related_name="rebuild_items",
                              help_text="The latest build requested for it (a retry replaces it)")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Builds requested for it, retries included")

    class Meta:
        ordering = ["batch", "position"]
        constraints = [models.UniqueConstraint(fields=["batch", "recipe"], name="one_item_per_recipe_and_batch")]

    def __str__(self):
        return f"{self.recipe} in {self.batch}"

    @property
    def status(self) -> str:
        """The stored state until a build exists; then the build's own state."""
        build = self.build
        if build is None:
            return self.state
        if build.status == Build.Status.QUEUED:
            return self.Status.REQUESTED
        if build.status == Build.Status.RUNNING:
            return self.Status.BUILDING
        if build.status == Build.Status.SUCCEEDED:
            return self.Status.PUBLISHED if build.published_reference else self.Status.BLOCKED
        return self.Status.BUILD_FAILED

    @property
    def status_label(self) -> str:
        return self.Status(self.status).label

    @property
    def retryable(self) -> bool:
        return self.status in self.RETRYABLE

"""What platform admins curate: approved base images and versioned components."""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from catalog.fragments import FragmentError, fragment_check


class Lifecycle(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    DEPRECATED = "deprecated", "Deprecated"
    RETIRED = "retired", "Retired"


# What recipes may be saved and built with: a deprecated version still works until it is retired;
# a draft is seen only by platform admins, a retired one by nobody new.
USABLE_LIFECYCLES = (Lifecycle.PUBLISHED, Lifecycle.DEPRECATED)


class ProposalState(models.TextChoices):
    PENDING = "pending", "Pending review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class BaseImage(models.Model):
    """An image recipes may start FROM, pinned by its registry digest."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    repository = models.CharField(max_length=200, help_text="Repository in the portal's registry, e.g. base/debian")
    tag = models.CharField(max_length=100)
    digest = models.CharField(max_length=80, blank=True, help_text="Manifest digest the recipes pin to")
    layer_digests = models.JSONField(default=list, blank=True, help_text="Layers an image must start with")
    os_family = models.CharField(max_length=30, help_text="e.g. debian, busybox")
    os_release = models.CharField(max_length=30, blank=True)
    approved = models.BooleanField(default=False)
    # The lifecycle moves only through curation.lifecycle (its rules), which sets these together.
    lifecycle = models.CharField(max_length=20, choices=Lifecycle.choices, default=Lifecycle.PUBLISHED)
    replacement = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaces",
                                    help_text="The base recipes should move to (deprecated bases)")
    sunset_date = models.DateField(null=True, blank=True, help_text="After this day the base may be retired")
    description = models.TextField(blank=True)
    # A custom base proposed from a published image waits in "pending" until a platform admin
    # approves it; "" means an admin curated it directly.
    proposal_state = models.CharField(max_length=20, choices=ProposalState.choices, blank=True, default="")
    source_build = models.ForeignKey("builds.Build", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="proposed_bases", help_text="The published build it was proposed from")
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    build_base = models.BooleanField(
        default=False, help_text="Offered as a build-stage base (compilers, SDKs) for recipes that build their package")

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return f"{self.name} ({self.repository}:{self.tag})"

    @property
    def usable(self) -> bool:
        """Recipes may be saved and built on it: approved, pinned, published or deprecated."""
        return self.approved and bool(self.digest) and self.lifecycle in USABLE_LIFECYCLES

    @property
    def selectable(self) -> bool:
        """Offered to teams choosing a base: usable and not deprecated."""
        return self.usable and self.lifecycle == Lifecycle.PUBLISHED

    @property
    def pending(self) -> bool:
        return self.proposal_state == ProposalState.PENDING


class Component(models.Model):
    """An environment option (tick a box) or a marketplace service (a bigger function)."""

    class Kind(models.TextChoices):
        OPTION = "option", "Environment option"
        SERVICE = "service", "Marketplace service"

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField(blank=True)
    order_weight = models.IntegerField(
        default=100, help_text="Lower comes first in the Dockerfile; widely used components first share layers"
    )

    class Meta:
        ordering = ["kind", "order_weight", "slug"]

    def __str__(self):
        return self.name

    def latest_version(self):
        return self.versions.filter(lifecycle=Lifecycle.PUBLISHED).order_by("-created").first()


class ComponentVersion(models.Model):
    """One immutable version of a component: its Dockerfile fragment and parameter schema.

    Recipes and builds point at versions, so editing one would silently change what earlier
    builds meant; admins publish a new version instead. Only the lifecycle may change.
    """

    # The lifecycle moves only through curation.lifecycle (its rules), which sets these together.
    MUTABLE_FIELDS = {"lifecycle", "replacement", "sunset_date"}

    component = models.ForeignKey(Component, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=50)
    fragment = models.TextField(help_text="Dockerfile lines; {{ name }} inserts a validated, quoted parameter")
    final_fragment = models.TextField(blank=True, help_text="Lines placed after the artifact (e.g. USER)")
    parameters = models.JSONField(default=list, blank=True, help_text="List of parameter specs")
    requires = models.JSONField(default=list, blank=True, help_text="Slugs of components this one needs")
    conflicts = models.JSONField(default=list, blank=True, help_text="Slugs it cannot be combined with")
    os_families = models.JSONField(default=list, help_text="Base OS families it builds on")
    lifecycle = models.CharField(max_length=20, choices=Lifecycle.choices, default=Lifecycle.PUBLISHED)
    replacement = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaces",
                                    help_text="The version recipes should move to (deprecated versions)")
    sunset_date = models.DateField(null=True, blank=True, help_text="After this day the version may be retired")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["component", "-created"]
        constraints = [models.UniqueConstraint(fields=["component", "version"], name="unique_component_version")]

    def __str__(self):
        return f"{self.component.slug} {self.version}"

    @property
    def usable(self) -> bool:
        """Recipes may be saved and built with it (published or deprecated)."""
        return self.lifecycle in USABLE_LIFECYCLES

    def clean(self):
        try:
            fragment_check(self.fragment + "\n" + self.final_fragment, self.parameters)
        except FragmentError as error:
            raise ValidationError({"fragment": str(error)})

    def save(self, *args, **kwargs):
        if self.pk:
            stored = ComponentVersion.objects.get(pk=self.pk)
            changed = {
                f.name
                for f in self._meta.concrete_fields
                if getattr(stored, f.attname) != getattr(self, f.attname)
            }
            if changed - self.MUTABLE_FIELDS:
                raise ValidationError(
                    f"Component versions are immutable (tried to change {', '.join(sorted(changed))}); "
                    "publish a new version instead."
                )
        super().save(*args, **kwargs)

"""API shapes of base proposals, new catalog entries, rebuilds and lifecycle moves. Serializers only
translate: the rules are the services' (curation.entries for the entries)."""
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import Component, Lifecycle
from catalog.serializers import BaseImageSerializer
from curation.entries import DESCRIPTION_MAX, NAME_MAX, ORDER_WEIGHT_MAX, ORDER_WEIGHT_MIN, REPOSITORY_MAX
from curation.models import RebuildBatch, RebuildItem, RebuildMode
from curation.rebuild_plans import batch_counts, batch_items, batch_settled


class BaseProposalInputSerializer(serializers.Serializer):
    build = serializers.IntegerField(help_text="A published build of one of your teams")
    slug = serializers.SlugField(max_length=50)
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ComponentInputSerializer(serializers.Serializer):
    slug = serializers.SlugField(max_length=50, help_text="Lower-case letters, digits and '-'; unique")
    name = serializers.CharField(max_length=NAME_MAX)
    kind = serializers.ChoiceField(choices=Component.Kind.choices)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=DESCRIPTION_MAX)
    order_weight = serializers.IntegerField(required=False, default=100, min_value=ORDER_WEIGHT_MIN, max_value=ORDER_WEIGHT_MAX,
                                            help_text="Lower comes first in the Dockerfile")


class BaseInputSerializer(serializers.Serializer):
    slug = serializers.SlugField(max_length=50, help_text="Lower-case letters, digits and '-'; unique")
    name = serializers.CharField(max_length=NAME_MAX)
    repository = serializers.CharField(max_length=REPOSITORY_MAX,
                                       help_text="Its path in the portal's registry, e.g. base/busybox (not quarantine/ or published/)")
    tag = serializers.CharField(max_length=128, help_text="The tag whose digest and layers the base is pinned to, now")
    os_family = serializers.CharField(max_length=30, help_text="Lower case, e.g. debian or busybox")
    os_release = serializers.CharField(required=False, allow_blank=True, default="", max_length=30)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=DESCRIPTION_MAX)
    build_base = serializers.BooleanField(required=False, default=False, help_text="Offered as a build-stage base")


class BaseReviewSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class BaseProposalSerializer(BaseImageSerializer):
    source_build = serializers.PrimaryKeyRelatedField(read_only=True)
    proposed_by = serializers.StringRelatedField(allow_null=True)
    reviewed_by = serializers.StringRelatedField(allow_null=True, help_text="Empty until a platform admin decides")

    class Meta(BaseImageSerializer.Meta):
        fields = BaseImageSerializer.Meta.fields + ["layer_digests", "proposal_state", "source_build", "proposed_by",
                                                    "reviewed_by", "reviewed_at"]


class RebuildInputSerializer(serializers.Serializer):
    """What to rebuild: exactly one of `base` and `component` (by slug)."""

    base = serializers.SlugField(required=False, allow_blank=True, default="", help_text="A base image's slug")
    component = serializers.SlugField(required=False, allow_blank=True, default="", help_text="A component's slug")
    upgrade = serializers.BooleanField(required=False, default=False,
                                       help_text="Move every recipe to the component's latest published version first")
    mode = serializers.ChoiceField(choices=RebuildMode.choices, required=False, default=RebuildMode.ALL,
                                   help_text="all, or passing: only recipes whose current image passes the policy")


class PlannedRecipeSerializer(serializers.Serializer):
    recipe = serializers.IntegerField(source="recipe.pk")
    recipe_name = serializers.CharField(source="recipe.name")
    team = serializers.CharField(source="recipe.team.slug")
    from_version = serializers.CharField(help_text="What the recipe has of the subject now")
    to_version = serializers.CharField(help_text="What it would be built with")
    current_image = serializers.IntegerField(source="image.pk", allow_null=True, default=None,
                                             help_text="The recipe's latest successful build, if any")
    verdict_state = serializers.ChoiceField(["pass", "blocked", "not evaluated", "no image"])
    after = serializers.SerializerMethodField(help_text="Recipes of the plan whose image this one starts FROM")
    skipped = serializers.BooleanField()
    skip_reason = serializers.CharField()
    dry_run = serializers.ChoiceField(["would build", "would fail", ""], help_text="Empty for a skipped recipe")
    dry_run_detail = serializers.CharField(help_text="Why it would fail")

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_after(self, planned) -> list[int]:
        return [recipe.pk for recipe in planned.after]


class RebuildPlanCountsSerializer(serializers.Serializer):
    recipes = serializers.IntegerField()
    skipped = serializers.IntegerField()
    would_build = serializers.IntegerField()
    would_fail = serializers.IntegerField()


class RebuildPlanSerializer(serializers.Serializer):
    subject = serializers.CharField(source="subject.label")
    mode = serializers.ChoiceField(choices=RebuildMode.choices)
    counts = RebuildPlanCountsSerializer()
    recipes = PlannedRecipeSerializer(many=True, help_text="In build order")


class RebuildItemSerializer(serializers.ModelSerializer):
    recipe_name = serializers.CharField(source="recipe.name", read_only=True)
    team = serializers.CharField(source="recipe.team.slug", read_only=True)
    status = serializers.ChoiceField(choices=RebuildItem.Status.choices, read_only=True,
                                     help_text="Read from the build once there is one")
    retryable = serializers.BooleanField(read_only=True)

    class Meta:
        model = RebuildItem
        fields = ["id", "batch", "position", "recipe", "recipe_name", "team", "from_version", "to_version", "status", "detail",
                  "build", "attempts", "retryable"]
        read_only_fields = fields


class RebuildBatchSerializer(serializers.ModelSerializer):
    base = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    component = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    target_version = serializers.SlugRelatedField(slug_field="version", read_only=True, allow_null=True)
    subject = serializers.CharField(source="subject_label", read_only=True)
    requested_by = serializers.StringRelatedField(allow_null=True)
    counts = serializers.SerializerMethodField(help_text="Items per status")
    settled = serializers.SerializerMethodField(help_text="True once nothing will change without someone acting")
    items = serializers.SerializerMethodField()

    class Meta:
        model = RebuildBatch
        fields = ["id", "subject", "base", "component", "target_version", "mode", "requested_by", "created", "counts",
                  "settled", "items"]
        read_only_fields = fields

    def _items(self, batch):
        if not hasattr(batch, "_loaded_items"):
            batch._loaded_items = batch_items(batch)
        return batch._loaded_items

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_counts(self, batch) -> dict:
        return batch_counts(self._items(batch))

    def get_settled(self, batch) -> bool:
        return batch_settled(self._items(batch))

    @extend_schema_field(RebuildItemSerializer(many=True))
    def get_items(self, batch):
        return RebuildItemSerializer(self._items(batch), many=True).data


class LifecycleInputSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=Lifecycle.choices, help_text="The state to move the version to")
    replacement = serializers.CharField(required=False, allow_blank=True, max_length=50,
                                        help_text="Deprecating: the published version of the same component to move to")
    sunset_date = serializers.DateField(required=False, allow_null=True,
                                        help_text="Deprecating: the day after which the version may be retired")


class BaseLifecycleInputSerializer(LifecycleInputSerializer):
    to = serializers.ChoiceField(choices=Lifecycle.choices, help_text="The state to move the base image to")
    replacement = serializers.SlugField(required=False, allow_blank=True, max_length=50,
                                        help_text="Deprecating: the slug of the published base recipes should move to")

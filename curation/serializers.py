"""API shapes of base proposals. Serializers only translate."""
from rest_framework import serializers

from catalog.serializers import BaseImageSerializer


class BaseProposalInputSerializer(serializers.Serializer):
    build = serializers.IntegerField(help_text="A published build of one of your teams")
    slug = serializers.SlugField(max_length=50)
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class BaseReviewSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class BaseProposalSerializer(BaseImageSerializer):
    source_build = serializers.PrimaryKeyRelatedField(read_only=True)
    proposed_by = serializers.StringRelatedField(allow_null=True)
    reviewed_by = serializers.StringRelatedField(allow_null=True, help_text="Empty until a platform admin decides")

    class Meta(BaseImageSerializer.Meta):
        fields = BaseImageSerializer.Meta.fields + ["layer_digests", "proposal_state", "source_build", "proposed_by",
                                                    "reviewed_by", "reviewed_at"]

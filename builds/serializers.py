"""API shapes of builds. Serializers only translate; the services validate and write."""
from rest_framework import serializers

from builds.models import Build


class BuildSerializer(serializers.ModelSerializer):
    recipe = serializers.PrimaryKeyRelatedField(read_only=True)
    verdict = serializers.SerializerMethodField()

    class Meta:
        model = Build
        fields = [
            "id", "recipe", "status", "current_step", "steps", "dockerfile", "composition_sha256", "no_cache", "reused_from", "digest",
            "quarantine_repository", "quarantine_tag", "published_reference", "published_at", "error_code",
            "error_message", "failed_step", "cancel_requested", "attempts", "log_lines", "created", "started", "finished", "verdict",
            "build_stage",
        ]

    def get_verdict(self, build) -> dict | None:
        verdict = build.verdicts.order_by("-created").first()
        if verdict is None:
            return None
        return {"passed": verdict.passed, "results": verdict.results, "policy_version": verdict.policy_version,
                "ruleset_version": verdict.ruleset_version, "ruleset": verdict.ruleset,
                "database_version": verdict.database_version, "created": verdict.created}

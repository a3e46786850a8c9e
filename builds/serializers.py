"""API shapes of builds. Serializers only translate; the services validate and write."""
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from builds.liveness import build_liveness, workers_alive
from builds.models import Build


class VerdictSerializer(serializers.Serializer):
    """The latest verdict: its state says whether the image passed, was blocked, or could not be
    assessed (then `not_assessed` says why, and no result reads as "0 vulnerabilities")."""

    state = serializers.ChoiceField(["pass", "blocked", "not-assessed"])
    passed = serializers.BooleanField(help_text="Whether the gate lets it be published (a team's policy may warn only "
                                                "when an image is not assessed)")
    not_assessed = serializers.CharField(help_text="Why the image's vulnerabilities were not assessed; empty when they were")
    results = serializers.ListField(child=serializers.DictField(), help_text="Each rule: rule, title, status "
                                    "(pass, fail, warn, waived, not_assessed), message, evidence")
    policy_version = serializers.CharField()
    ruleset_version = serializers.CharField()
    ruleset = serializers.ListField(child=serializers.DictField())
    database_version = serializers.IntegerField(allow_null=True)
    created = serializers.DateTimeField()


class LivenessSerializer(serializers.Serializer):
    """Whether a builder is there for this build: "ok"; "no-builder" (queued, and no live worker
    consumes its queue); "builder-lost" (running, and its worker or heartbeat went silent)."""

    state = serializers.ChoiceField(["ok", "no-builder", "builder-lost"])
    message = serializers.CharField(help_text="What to tell the user; empty when all is well")
    silent_seconds = serializers.IntegerField(allow_null=True, help_text="Seconds since the build's last heartbeat (running builds)")


class BuildSerializer(serializers.ModelSerializer):
    recipe = serializers.PrimaryKeyRelatedField(read_only=True)
    verdict = serializers.SerializerMethodField()
    liveness = serializers.SerializerMethodField()

    class Meta:
        model = Build
        fields = [
            "id", "recipe", "status", "current_step", "steps", "dockerfile", "composition_sha256", "no_cache", "reused_from", "digest",
            "quarantine_repository", "quarantine_tag", "published_reference", "published_at", "error_code",
            "error_message", "failed_step", "cancel_requested", "attempts", "log_lines", "created", "started", "finished", "verdict",
            "build_stage", "liveness", "reason",
        ]

    @extend_schema_field(LivenessSerializer)
    def get_liveness(self, build) -> dict:
        if "alive_workers" not in self.context:  # read once for a whole page of builds
            self.context["alive_workers"] = list(workers_alive())
        liveness = build_liveness(build, alive=self.context["alive_workers"])
        return {"state": liveness.state, "message": liveness.message, "silent_seconds": liveness.silent_seconds}

    @extend_schema_field(VerdictSerializer(allow_null=True))
    def get_verdict(self, build) -> dict | None:
        verdict = build.verdicts.order_by("-created").first()
        if verdict is None:
            return None
        return {"state": verdict.state, "passed": verdict.passed, "not_assessed": verdict.not_assessed,
                "results": verdict.results, "policy_version": verdict.policy_version,
                "ruleset_version": verdict.ruleset_version, "ruleset": verdict.ruleset,
                "database_version": verdict.database_version, "created": verdict.created}


class ExpectedFailureSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text="The policy rule kind, e.g. non-root-user")
    title = serializers.CharField()
    detail = serializers.CharField(help_text="Why it is expected to fail, and what to change")


class RequestedBuildSerializer(BuildSerializer):
    """A build just requested: the build, and what the policy is known to block before it was built
    (the pages ask for a confirmation first; the API builds and says so)."""

    expected_failures = serializers.SerializerMethodField()

    class Meta(BuildSerializer.Meta):
        fields = [*BuildSerializer.Meta.fields, "expected_failures"]

    @extend_schema_field(ExpectedFailureSerializer(many=True))
    def get_expected_failures(self, build) -> list[dict]:
        return [{"rule": f.rule, "title": f.title, "detail": f.detail} for f in getattr(build, "expected_failures", [])]

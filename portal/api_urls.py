from django.urls import path
from rest_framework.routers import DefaultRouter

from builds.api import BaseImageViewSet, BuildViewSet, ComponentViewSet, RecipeViewSet
from builds.custom_api import DockerfileRecipeViewSet
from catalog.proposal_api import BaseProposalViewSet
from builds.team_script_api import TeamScriptViewSet
from compliance.api import BuildReportViewSet
from compliance.exception_api import ExceptionViewSet
from compliance.trend_api import VerdictTrendView
from compliance.policy_api import PolicyRuleViewSet

router = DefaultRouter()
router.register("catalog/bases", BaseImageViewSet, basename="api-base")
router.register("catalog/components", ComponentViewSet, basename="api-component")
router.register("catalog/base-proposals", BaseProposalViewSet, basename="api-base-proposal")
router.register("dockerfile-recipes", DockerfileRecipeViewSet, basename="api-dockerfile-recipe")
router.register("recipes", RecipeViewSet, basename="api-recipe")
router.register("team-scripts", TeamScriptViewSet, basename="api-team-script")
router.register("builds", BuildViewSet, basename="api-build")
router.register("exceptions", ExceptionViewSet, basename="api-exception")
router.register("policy/rules", PolicyRuleViewSet, basename="api-policy-rule")
router.register(r"builds/(?P<build_id>[0-9]+)/reports", BuildReportViewSet, basename="api-build-report")

urlpatterns = [path("security/verdict-trend/", VerdictTrendView.as_view(), name="api-verdict-trend"), *router.urls]

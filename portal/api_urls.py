from rest_framework.routers import DefaultRouter

from builds.api import BaseImageViewSet, BuildViewSet, ComponentViewSet, RecipeViewSet
from compliance.api import BuildReportViewSet
from compliance.exception_api import ExceptionViewSet
from compliance.policy_api import PolicyRuleViewSet

router = DefaultRouter()
router.register("catalog/bases", BaseImageViewSet, basename="api-base")
router.register("catalog/components", ComponentViewSet, basename="api-component")
router.register("recipes", RecipeViewSet, basename="api-recipe")
router.register("builds", BuildViewSet, basename="api-build")
router.register("exceptions", ExceptionViewSet, basename="api-exception")
router.register("policy/rules", PolicyRuleViewSet, basename="api-policy-rule")
router.register(r"builds/(?P<build_id>[0-9]+)/reports", BuildReportViewSet, basename="api-build-report")

urlpatterns = router.urls

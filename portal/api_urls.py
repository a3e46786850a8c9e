from rest_framework.routers import DefaultRouter

from builds.api import BaseImageViewSet, BuildViewSet, ComponentViewSet, RecipeViewSet
from compliance.exception_api import ExceptionViewSet

router = DefaultRouter()
router.register("catalog/bases", BaseImageViewSet, basename="api-base")
router.register("catalog/components", ComponentViewSet, basename="api-component")
router.register("recipes", RecipeViewSet, basename="api-recipe")
router.register("builds", BuildViewSet, basename="api-build")
router.register("exceptions", ExceptionViewSet, basename="api-exception")

urlpatterns = router.urls

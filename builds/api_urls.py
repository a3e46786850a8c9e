from rest_framework.routers import SimpleRouter

from builds.api import BuildViewSet
from builds.dockerfile.api import DockerfileRecipeViewSet
from builds.recipes.api import RecipeViewSet
from builds.team_scripts.api import TeamScriptViewSet

router = SimpleRouter()
router.register("dockerfile-recipes", DockerfileRecipeViewSet, basename="api-dockerfile-recipe")
router.register("recipes", RecipeViewSet, basename="api-recipe")
router.register("team-scripts", TeamScriptViewSet, basename="api-team-script")
router.register("builds", BuildViewSet, basename="api-build")
urlpatterns = router.urls

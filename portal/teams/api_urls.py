from rest_framework.routers import SimpleRouter

from portal.teams.api import TeamViewSet

router = SimpleRouter()
router.register("teams", TeamViewSet, basename="api-team")
urlpatterns = router.urls

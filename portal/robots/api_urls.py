from rest_framework.routers import SimpleRouter

from portal.robots.api import RobotViewSet

router = SimpleRouter()
router.register("robots", RobotViewSet, basename="api-robot")
urlpatterns = router.urls

"""People under /api/people/ (platform admins)."""
from rest_framework.routers import SimpleRouter

from portal.people.api import PersonViewSet

router = SimpleRouter()
router.register("people", PersonViewSet, basename="api-person")
urlpatterns = router.urls

"""People and invitations under /api/people/ (platform admins)."""
from rest_framework.routers import SimpleRouter

from portal.people.api import InvitationViewSet, PersonViewSet

router = SimpleRouter()
# Before people: their detail route would otherwise take "invitations" for a person's id.
router.register("people/invitations", InvitationViewSet, basename="api-invitation")
router.register("people", PersonViewSet, basename="api-person")
urlpatterns = router.urls

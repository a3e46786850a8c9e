"""The caller's API tokens under /api/tokens/ (POST /api/token/, which takes a password, is in portal/urls.py)."""
from rest_framework.routers import SimpleRouter

from portal.accounts.api import ApiTokenViewSet

router = SimpleRouter()
router.register("tokens", ApiTokenViewSet, basename="api-token")
urlpatterns = router.urls

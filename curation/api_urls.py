from rest_framework.routers import SimpleRouter

from curation.api import BaseProposalViewSet

router = SimpleRouter()
router.register("catalog/base-proposals", BaseProposalViewSet, basename="api-base-proposal")
urlpatterns = router.urls

from rest_framework.routers import SimpleRouter

from curation.api import (
    BaseImageLifecycleViewSet,
    BaseProposalViewSet,
    ComponentVersionViewSet,
    RebuildItemViewSet,
    RebuildViewSet,
)

router = SimpleRouter()
router.register("catalog/base-proposals", BaseProposalViewSet, basename="api-base-proposal")
# Only the lifecycle action: the reads are catalog.api's (same prefix, so api-base-lifecycle).
router.register("catalog/bases", BaseImageLifecycleViewSet, basename="api-base")
router.register("catalog/versions", ComponentVersionViewSet, basename="api-component-version")
router.register("rebuilds", RebuildViewSet, basename="api-rebuild")
router.register("rebuild-items", RebuildItemViewSet, basename="api-rebuild-item")
urlpatterns = router.urls

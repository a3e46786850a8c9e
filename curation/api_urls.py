from rest_framework.routers import SimpleRouter

from curation.api import (
    BaseImageViewSet,
    BaseProposalViewSet,
    ComponentVersionViewSet,
    ComponentViewSet,
    RebuildItemViewSet,
    RebuildViewSet,
)

router = SimpleRouter()
router.register("catalog/base-proposals", BaseProposalViewSet, basename="api-base-proposal")
# The catalog's collections: catalog.api's reads and the curation's writes, one viewset per URL.
router.register("catalog/bases", BaseImageViewSet, basename="api-base")
router.register("catalog/components", ComponentViewSet, basename="api-component")
router.register("catalog/versions", ComponentVersionViewSet, basename="api-component-version")
router.register("rebuilds", RebuildViewSet, basename="api-rebuild")
router.register("rebuild-items", RebuildItemViewSet, basename="api-rebuild-item")
urlpatterns = router.urls

from rest_framework.routers import SimpleRouter

from catalog.api import BaseImageViewSet, ComponentViewSet

router = SimpleRouter()
router.register("catalog/bases", BaseImageViewSet, basename="api-base")
router.register("catalog/components", ComponentViewSet, basename="api-component")
urlpatterns = router.urls

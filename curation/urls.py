from django.urls import path

from curation import rebuild_views, views

urlpatterns = [
    path("builds/<int:pk>/propose-base", views.build_propose_base, name="build-propose-base"),
    path("rebuilds/", rebuild_views.rebuild_list, name="rebuild-list"),
    path("rebuilds/new", rebuild_views.rebuild_new, name="rebuild-new"),
    path("rebuilds/<int:pk>", rebuild_views.rebuild_detail, name="rebuild-detail"),
    path("rebuilds/<int:pk>/progress", rebuild_views.rebuild_progress, name="rebuild-progress"),
    path("rebuilds/items/<int:pk>/retry", rebuild_views.rebuild_item_retry_view, name="rebuild-item-retry"),
]

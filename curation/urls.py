from django.urls import path

from curation import catalog_views, entry_views, lifecycle_views, proposal_views, rebuild_views, version_views, views

urlpatterns = [
    path("builds/<int:pk>/propose-base", views.build_propose_base, name="build-propose-base"),
    path("catalog/", catalog_views.catalog_list, name="catalog-list"),
    # Before the slug routes: "new" is no slug a component or base may take (curation.entries).
    path("catalog/components/new", entry_views.component_new, name="catalog-component-new"),
    path("catalog/bases/new", entry_views.base_new, name="catalog-base-new"),
    path("catalog/components/<slug:slug>", catalog_views.catalog_component, name="catalog-component"),
    path("catalog/components/<slug:slug>/versions/new", version_views.component_version_new,
         name="catalog-component-new-version"),
    path("catalog/bases/<slug:slug>", catalog_views.catalog_base, name="catalog-base"),
    path("catalog/bases/<slug:slug>/repin", entry_views.base_repin_view, name="catalog-base-repin"),
    path("catalog/bases/<slug:slug>/lifecycle", lifecycle_views.base_lifecycle, name="base-lifecycle"),
    path("catalog/versions/<int:pk>/lifecycle", lifecycle_views.component_version_lifecycle,
         name="component-version-lifecycle"),
    path("catalog/proposals/", proposal_views.proposal_list, name="base-proposal-list"),
    path("catalog/proposals/<slug:slug>/approve", proposal_views.proposal_approve, name="base-proposal-approve"),
    path("catalog/proposals/<slug:slug>/reject", proposal_views.proposal_reject, name="base-proposal-reject"),
    path("rebuilds/", rebuild_views.rebuild_list, name="rebuild-list"),
    path("rebuilds/new", rebuild_views.rebuild_new, name="rebuild-new"),
    path("rebuilds/<int:pk>", rebuild_views.rebuild_detail, name="rebuild-detail"),
    path("rebuilds/<int:pk>/progress", rebuild_views.rebuild_progress, name="rebuild-progress"),
    path("rebuilds/items/<int:pk>/retry", rebuild_views.rebuild_item_retry_view, name="rebuild-item-retry"),
]

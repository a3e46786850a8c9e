"""Pages of recipes, builds and team scripts."""
from django.urls import path

from builds import home, views
from builds.dockerfile import views as dockerfile_views
from builds.recipes import views as recipe_views
from builds.registry_access.views import registry_token
from builds.team_scripts import views as team_script_views

urlpatterns = [
    path("", home.home, name="home"),
    path("images/new", recipe_views.recipe_new, name="recipe-new"),
    path("images/new/preview", recipe_views.recipe_preview_partial, name="recipe-preview"),
    path("images/new/dockerfile", dockerfile_views.recipe_new_dockerfile, name="recipe-new-dockerfile"),
    path("images/new/dockerfile/check", dockerfile_views.dockerfile_check_partial, name="recipe-dockerfile-check"),
    path("recipes/<int:pk>/", recipe_views.recipe_detail, name="recipe-detail"),
    path("recipes/<int:pk>/edit", recipe_views.recipe_edit, name="recipe-edit"),
    path("recipes/<int:pk>/build", recipe_views.recipe_build, name="recipe-build"),
    path("recipes/<int:pk>/visibility", recipe_views.recipe_visibility, name="recipe-visibility"),
    path("recipes/<int:pk>/build-settings", team_script_views.recipe_build_settings, name="recipe-build-settings"),
    path("recipes/<int:pk>/promote-script", team_script_views.recipe_promote_script, name="recipe-promote-script"),
    path("team-scripts/", team_script_views.team_script_list, name="team-script-list"),
    path("team-scripts/<int:pk>", team_script_views.team_script_detail, name="team-script-detail"),
    path("builds/", views.build_list, name="build-list"),
    path("builds/<int:pk>", views.build_detail, name="build-detail"),
    path("builds/<int:pk>/live", views.build_live, name="build-live"),
    path("builds/<int:pk>/log.txt", views.build_log_raw, name="build-log-raw"),
    path("builds/<int:pk>/Dockerfile", views.build_dockerfile, name="build-dockerfile"),
    path("builds/<int:pk>/publish", views.build_publish, name="build-publish"),
    path("builds/<int:pk>/reevaluate", views.build_verdict_reevaluate, name="build-reevaluate"),
    path("builds/<int:pk>/cancel", views.build_cancel_view, name="build-cancel"),
    path("registry/token", registry_token, name="registry-token"),
]

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.authtoken.views import obtain_auth_token

from builds import custom_views
from builds import team_script_views
from builds import views as build_views
from catalog import proposal_views
from compliance import exception_views, policy_views
from compliance import views as compliance_views
from portal import views

# A database outage answers 503 "retry shortly" rather than a 500 (see portal/outage.py).
handler500 = "portal.outage.handler500"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("images/new", build_views.recipe_new, name="recipe-new"),
    path("images/new/preview", build_views.recipe_preview_partial, name="recipe-preview"),
    path("images/new/dockerfile", custom_views.recipe_new_dockerfile, name="recipe-new-dockerfile"),
    path("images/new/dockerfile/check", custom_views.dockerfile_check_partial, name="recipe-dockerfile-check"),
    path("builds/<int:pk>/propose-base", proposal_views.build_propose_base, name="build-propose-base"),
    path("recipes/<int:pk>/", build_views.recipe_detail, name="recipe-detail"),
    path("recipes/<int:pk>/edit", build_views.recipe_edit, name="recipe-edit"),
    path("recipes/<int:pk>/build", build_views.recipe_build, name="recipe-build"),
    path("recipes/<int:pk>/build-settings", team_script_views.recipe_build_settings, name="recipe-build-settings"),
    path("recipes/<int:pk>/promote-script", team_script_views.recipe_promote_script, name="recipe-promote-script"),
    path("team-scripts/", team_script_views.team_script_list, name="team-script-list"),
    path("team-scripts/<int:pk>", team_script_views.team_script_detail, name="team-script-detail"),
    path("builds/", build_views.build_list, name="build-list"),
    path("builds/<int:pk>", build_views.build_detail, name="build-detail"),
    path("builds/<int:pk>/live", build_views.build_live, name="build-live"),
    path("builds/<int:pk>/log.txt", build_views.build_log_raw, name="build-log-raw"),
    path("builds/<int:pk>/Dockerfile", build_views.build_dockerfile, name="build-dockerfile"),
    path("builds/<int:pk>/publish", build_views.build_publish, name="build-publish"),
    path("builds/<int:pk>/cancel", build_views.build_cancel_view, name="build-cancel"),
    path("builds/<int:pk>/report", compliance_views.image_report, name="image-report"),
    path("security", compliance_views.security_dashboard, name="security-dashboard"),
    path("cves/<str:vulnerability_id>", compliance_views.vulnerability_impact, name="vulnerability-impact"),
    path("search", compliance_views.search, name="search"),
    path("policy", policy_views.policy_page, name="policy"),
    path("exceptions", exception_views.exception_list, name="exception-list"),
    path("exceptions/new", exception_views.exception_new, name="exception-new"),
    path("exceptions/<int:pk>", exception_views.exception_detail, name="exception-detail"),
    path("exceptions/<int:pk>/decision", exception_views.exception_decision, name="exception-decision"),
    path("builds/<int:pk>/report.csv", compliance_views.image_report_csv, name="image-report-csv"),
    path("builds/<int:pk>/sbom.cdx.json", compliance_views.image_sbom, name="image-sbom"),
    path("api/", include("portal.api_urls")),
    path("harbor/api/v1/", include("compliance.harbor.urls")),
    path("api/token/", login_not_required(obtain_auth_token), name="api-token"),
    path("api/schema/", login_not_required(SpectacularAPIView.as_view()), name="api-schema"),
    path("admin/", admin.site.urls),
]

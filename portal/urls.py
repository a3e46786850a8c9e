"""The URL map: each app brings its own pages (`<app>/urls.py`) and API routes (`<app>/api_urls.py`),
included by name so the project package imports no app."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from portal.accounts.api import TokenObtainView
from portal.ops import views as ops_views
from portal.robots import views as robot_views

# A database outage answers 503 "retry shortly" rather than a 500 (see portal/outage.py).
handler500 = "portal.outage.handler500"
handler404 = "portal.api_errors.handler404"

urlpatterns = [
    path("healthz", ops_views.healthz, name="healthz"),
    path("readyz", ops_views.readyz, name="readyz"),
    path("metrics", ops_views.metrics, name="metrics"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("robots", robot_views.robot_list, name="robot-list"),
    path("robots/<int:pk>/rotate", robot_views.robot_rotate_view, name="robot-rotate"),
    path("robots/<int:pk>/revoke", robot_views.robot_revoke_view, name="robot-revoke"),
    path("", include("builds.urls")),
    path("", include("compliance.urls")),
    path("", include("curation.urls")),
    path("", include("portal.accounts.urls")),
    path("", include("portal.teams.urls")),
    path("", include("portal.people.urls")),
    path("api/", include("portal.api_urls")),
    path("harbor/api/v1/", include("compliance.harbor.urls")),
    path("api/token/", login_not_required(TokenObtainView.as_view()), name="api-token"),
    path("api/schema/", login_not_required(SpectacularAPIView.as_view()), name="api-schema"),
    path("admin/", admin.site.urls),
]

"""The spec's paths, mounted by portal/urls.py under /harbor/api/v1/ (Harbor's scanner URL is
the portal's address + /harbor)."""
from django.urls import path

from compliance.harbor import views

urlpatterns = [
    path("metadata", views.metadata, name="harbor-metadata"),
    path("scan", views.scan, name="harbor-scan"),
    path("scan/<str:scan_request_id>/report", views.scan_report, name="harbor-scan-report"),
]

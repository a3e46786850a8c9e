"""Compliance pages: image reports, the security dashboard, CVE impact, policy and exceptions."""
from django.urls import include, path

from compliance import views
from compliance.exceptions import views as exception_views
from compliance.policy import views as policy_views
from compliance.reports.compare import views as compare_views
from compliance.search import views as search_views

urlpatterns = [
    path("builds/<int:pk>/report", views.image_report, name="image-report"),
    path("builds/<int:pk>/report.csv", views.image_report_csv, name="image-report-csv"),
    path("builds/<int:pk>/report/compare", compare_views.image_report_compare, name="image-report-compare"),
    path("builds/<int:pk>/report/compare.csv", compare_views.image_report_compare_csv, name="image-report-compare-csv"),
    path("builds/<int:pk>/sbom.cdx.json", views.image_sbom, name="image-sbom"),
    path("security", views.security_dashboard, name="security-dashboard"),
    path("security/images", views.fleet_images, name="fleet-images"),
    path("cves/<str:vulnerability_id>", views.vulnerability_impact, name="vulnerability-impact"),
    path("cves/<str:vulnerability_id>/rebuild", views.vulnerability_rebuild, name="vulnerability-rebuild"),
    path("cves/<str:vulnerability_id>/exceptions", views.vulnerability_exceptions, name="vulnerability-exceptions"),
    path("search", search_views.search, name="search"),
    path("policy", policy_views.policy_page, name="policy"),
    path("exceptions", exception_views.exception_list, name="exception-list"),
    path("exceptions/new", exception_views.exception_new, name="exception-new"),
    path("exceptions/<int:pk>", exception_views.exception_detail, name="exception-detail"),
    path("exceptions/<int:pk>/decision", exception_views.exception_decision, name="exception-decision"),
    path("", include("compliance.attestations.urls")),
]

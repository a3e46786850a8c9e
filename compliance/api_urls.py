from django.urls import include, path
from rest_framework.routers import SimpleRouter

from compliance.api import BuildSbomView
from compliance.exceptions.api import ExceptionViewSet
from compliance.policy.api import PolicyRuleViewSet
from compliance.reports.api import BuildReportViewSet
from compliance.reports.compare.api import BuildReportCompareView
from compliance.trend.api import VerdictTrendView
from compliance.vulnerability_api import VulnerabilityExceptionsView, VulnerabilityRebuildView

router = SimpleRouter()
router.register("exceptions", ExceptionViewSet, basename="api-exception")
router.register("policy/rules", PolicyRuleViewSet, basename="api-policy-rule")
router.register(r"builds/(?P<build_id>[0-9]+)/reports", BuildReportViewSet, basename="api-build-report")
urlpatterns = [
    path("builds/<int:pk>/sbom/", BuildSbomView.as_view(), name="api-build-sbom"),
    path("builds/<int:build_id>/reports/compare/", BuildReportCompareView.as_view(), name="api-build-report-compare"),
    path("security/verdict-trend/", VerdictTrendView.as_view(), name="api-verdict-trend"),
    path("vulnerabilities/<str:vulnerability_id>/rebuilds/", VulnerabilityRebuildView.as_view(),
         name="api-vulnerability-rebuilds"),
    path("vulnerabilities/<str:vulnerability_id>/exceptions/", VulnerabilityExceptionsView.as_view(),
         name="api-vulnerability-exceptions"),
    path("", include("compliance.attestations.api_urls")),
    *router.urls,
]

"""Scans Harbor asked for are deleted after the retention; builds' scans never are."""
import datetime

import pytest
from django.utils import timezone

from compliance.harbor.services import harbor_scans_prune
from compliance.models import ImageScan, SbomPackage
from tests.compliance.harbor.test_adapter import harbor_scan
from tests.compliance.vulndb.test_reevaluation import published, webhook  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def aged(scan, days):
    ImageScan.objects.filter(pk=scan.pk).update(created=timezone.now() - datetime.timedelta(days=days))
    return scan


def test_it_deletes_harbor_scans_past_the_retention_with_their_packages_and_keeps_the_rest(published, settings):  # noqa: F811
    settings.HARBOR_SCAN_RETENTION_DAYS = 7
    old, recent = aged(harbor_scan(), 8), aged(harbor_scan(), 6)
    SbomPackage.objects.create(scan=old, name="libssl3", version="3.0.11-1~deb12u1")
    aged(published.scan, 400)  # a build's scan: the build's record, kept as long as the build

    assert harbor_scans_prune() == 1
    assert set(ImageScan.objects.values_list("pk", flat=True)) == {recent.pk, published.scan.pk}
    assert not SbomPackage.objects.filter(scan_id=old.pk).exists()
    assert harbor_scans_prune() == 0

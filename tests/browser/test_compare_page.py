"""In a real browser: the image report counts our scan beside an imported Trivy report, the
comparison page filters by group through htmx, and the CSV export follows the filter it shows."""
import csv
import io

import pytest

from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS
from tests.browser.test_compliance_pages import log_in
from tests.compliance.reports.test_compare import image  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_build_dispatch(monkeypatch):
    monkeypatch.setattr("builds.services.build_dispatch", lambda build: None)  # no worker here: the image is made up


def test_it_compares_the_scans_filters_by_group_and_exports_what_it_shows(portal_url, image, member, page):  # noqa: F811
    log_in(page, portal_url, member.username)
    page.goto(f"{portal_url}/builds/{image.pk}/report")
    page.get_by_text("Trivy: 2 found by both · 2 only ours · 3 only Trivy").wait_for()
    page.get_by_role("link", name="→ compare").click()
    page.get_by_role("heading", name="Trivy: 2 found by both · 2 only ours · 3 only Trivy").wait_for()
    assert page.locator("#comparison tbody tr").count() == 7

    page.get_by_label("Group").select_option("other")
    page.wait_for_url("**group=other**")
    page.locator('#compare-export-csv[href*="group=other"]').wait_for(state="attached")  # the export follows the filter
    page.get_by_role("table").get_by_text("Package not in our SBOM").wait_for()
    assert page.locator("#comparison tbody tr").count() == 3
    assert page.locator("#sr-status").inner_text() == "3 rows match."
    page.screenshot(path=SHOTS / "30-scanner-comparison.png", full_page=True)
    axe_check(page, "30-scanner-comparison")

    with page.expect_download() as download:
        page.locator("#compare-export-csv").click()
    with open(download.value.path(), encoding="utf-8") as exported:
        rows = list(csv.DictReader(io.StringIO(exported.read())))
    assert sorted(r["vulnerability"] for r in rows) == ["CVE-2011-3374", "CVE-2023-4911", "GHSA-h5c8-rqwp-cp95"]
    assert {r["group"] for r in rows} == {"other"}

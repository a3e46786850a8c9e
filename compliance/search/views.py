"""The global search page."""
import re

from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from compliance.search.selectors import PACKAGE_ROWS, builds_named, packages_in_current_images, recipes_named
from compliance.vulndb.lookup import advisories_named
from portal.rbac import visible_teams

# Vulnerability ids as the advisories and scanners spell them: a search for one goes to its impact page.
VULNERABILITY_ID = re.compile(r"^(CVE-\d{4}-\d{4,}|GHSA(-[0-9a-z]{4}){3}|(PYSEC|RUSTSEC|GO|OSV|DSA|DLA|DTSA|DEBIAN|"
                              r"ALPINE|USN|RHSA|ALSA|TEMP|BIT|MAL)-[0-9A-Za-z.:_-]+)$", re.IGNORECASE)
PACKAGE_PAGES = 1000  # a page number beyond this is a typo, not a wish to read 50,000 rows in


def _page(value: str) -> int:
    return min(int(value), PACKAGE_PAGES) if value.isdigit() and int(value) > 0 else 1


def _as_published(vulnerability_id: str) -> str:
    """CVE ids as NVD writes them (upper case), GHSA ids as GitHub does (the prefix in upper case,
    the rest in lower case); others as typed (the impact page finds every spelling)."""
    prefix = vulnerability_id[:5].lower()
    if prefix.startswith("cve-"):
        return vulnerability_id.upper()
    if prefix == "ghsa-":
        return "GHSA-" + vulnerability_id[5:].lower()
    return vulnerability_id


@require_GET
def search(request):
    """Global search: a vulnerability id (or an id our data holds) goes to its impact page;
    anything else lists the images, builds and published references of the teams the user may
    see that it names, and the packages of their current images whose name is it or starts with
    it (a page at a time, ?packages_page=)."""
    q = request.GET.get("q", "").strip()[:200]
    if not q:
        return redirect("security-dashboard")
    if VULNERABILITY_ID.match(q):
        return redirect("vulnerability-impact", vulnerability_id=_as_published(q))
    teams = visible_teams(request.user)
    if "/" not in q and advisories_named(q, teams=teams).exists():
        return redirect("vulnerability-impact", vulnerability_id=q)
    packages_page = _page(request.GET.get("packages_page", ""))
    packages, more_packages = packages_in_current_images(q, teams, page=packages_page)
    return render(request, "compliance/search.html", {
        "q": q, "recipes": recipes_named(q, teams), "builds": builds_named(q, teams), "as_vulnerability": "/" not in q,
        "packages": packages, "packages_page": packages_page, "more_packages": more_packages,
        "package_rows": PACKAGE_ROWS})

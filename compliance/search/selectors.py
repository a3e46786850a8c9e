"""What the global search reads: images, builds and the packages installed in current images."""
from django.db import connection
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Collate, Upper

from builds.models import Build, Recipe
from compliance.models import Finding, SbomPackage
from compliance.selectors import current_builds

SEARCH_LIMIT = 50
PACKAGE_ROWS = 50


def recipes_named(q: str, teams):
    """Images (recipes) of these teams whose name or team slug holds `q`."""
    return (Recipe.objects.filter(team__in=teams).filter(Q(name__icontains=q) | Q(team__slug__icontains=q))
            .select_related("team", "base").order_by("team__slug", "name")[:SEARCH_LIMIT])


def builds_named(q: str, teams) -> list[Build]:
    """Builds of these teams by digest (12 hexadecimal digits or more) or published reference."""
    builds = Build.objects.filter(team__in=teams).select_related("recipe", "team")
    digest = q.lower().removeprefix("sha256:")
    if len(digest) >= 12 and all(c in "0123456789abcdef" for c in digest):
        builds = builds.filter(digest__startswith=f"sha256:{digest}")
    else:
        builds = builds.filter(published_reference__icontains=q)
    return list(builds.order_by("-pk")[:SEARCH_LIMIT])


def _binary(expression):
    """`expression` compared byte by byte: the order the index of migration 0019 keeps (SQLite's
    BINARY is PostgreSQL's "C")."""
    return Collate(expression, "BINARY" if connection.vendor == "sqlite" else "C")


def package_matches(q: str, teams):
    """The packages named `q`, or whose name starts with it (in any case), installed in these
    teams' current images, by name (the exact name first: it is a prefix of every other), team and
    image; each with its image (team, recipe, build) and how many findings it has there.

    `name__istartswith` is `UPPER(name) LIKE 'Q%'`, and the names are ordered as the expression
    index of migration 0019 keeps them, so PostgreSQL reads that index in order, from the first name
    that matches, and stops once a page is full: not every package of every current image, nor
    every match of a short prefix (sorted, to keep 50)."""
    findings = (Finding.objects.filter(package=OuterRef("pk")).order_by().values("package")
                .annotate(n=Count("pk")).values("n"))
    return (SbomPackage.objects.filter(scan__build__in=current_builds(teams), name__istartswith=q)
            .select_related("scan__build__team", "scan__build__recipe")
            .only("name", "version", "type", "scan__build__team__slug", "scan__build__recipe__name")
            .annotate(finding_count=Coalesce(Subquery(findings), 0))
            .order_by(_binary(Upper("name")), "scan__build__team__slug", "scan__build__recipe__name", "pk"))


def packages_in_current_images(q: str, teams, *, page: int = 1, rows: int = PACKAGE_ROWS) -> tuple[list, bool]:
    """One page of `package_matches` (`rows` of them) and whether more follow: one query."""
    start = (page - 1) * rows
    window = list(package_matches(q, teams)[start:start + rows + 1])  # one more than shown: is there a next page
    return window[:rows], len(window) > rows

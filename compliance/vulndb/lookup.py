"""Advisories by vulnerability id: the one way the pages, the search and the exception approvals
find the advisories of an id a person typed or a link carries."""
import json

from django.db import connection
from django.db.models import Q

from compliance.models import Advisory
from compliance.vulndb.ids import vulnerability_id_spellings


def advisories_named(vulnerability_id: str, *, teams=None):
    """The advisories whose id is `vulnerability_id` or whose aliases hold it, in any of its
    spellings (`vulnerability_id_spellings`: as given, and with the prefix in upper case and the rest
    as given, in upper or in lower case), as a queryset to narrow further. With `teams`, only the
    vulnerability database's and those of these teams' imported reports (Advisory.team).

    An alias matches whole: a part of an id ("2024-1234") finds nothing. On PostgreSQL each
    spelling is a jsonb containment (`aliases @> '["CVE-2024-1234"]'`), which the GIN index on
    aliases answers, and the ids a btree index on osv_id: a handful of index probes instead of
    reading every advisory's aliases as text (what `aliases__icontains` did). SQLite, the
    development default, has no containment on JSON: there the aliases' JSON text is searched for the
    quoted id in any case, as before."""
    spellings = vulnerability_id_spellings(vulnerability_id)
    if connection.vendor == "postgresql":
        aliases = Q()
        for spelling in spellings:
            aliases |= Q(aliases__contains=[spelling])
    else:
        aliases = Q(aliases__icontains=json.dumps(vulnerability_id))
    named = Advisory.objects.filter(Q(osv_id__in=spellings) | aliases)
    return named if teams is None else named.filter(Q(team__isnull=True) | Q(team__in=teams))

"""An index for the global search over package names (compliance/search/selectors.py): Django's
`name__istartswith` is `UPPER(name::text) LIKE UPPER('prefix%')`, and without an index on that
expression PostgreSQL reads every package row of every current image's scan to find a name.

The expression is indexed in the "C" collation (byte order), for two reasons: a btree serves LIKE
'prefix%' only in that collation (the database's, C.UTF-8 or en_US, is not one for the planner),
and the search orders its rows by the same expression in the same collation, so PostgreSQL reads
the index in order and stops once a page is full instead of sorting every match of a short prefix
("lib" is half the packages of a Debian image).

Built CONCURRENTLY, outside a transaction: the table holds a row per package of every scan ever
made, and a plain CREATE INDEX would hold the scans' inserts back while it reads them all. A first
attempt that failed leaves an invalid index of that name: it is dropped first.

PostgreSQL only: SQLite (the development default) uses no expression index for LIKE, so there the
search reads the rows as before.
"""
from django.db import migrations

INDEX = "compliance_sbompackage_name_prefix"


def index_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        schema_editor.execute(f'CREATE INDEX CONCURRENTLY {INDEX} ON compliance_sbompackage ((UPPER(name::text) COLLATE "C"))')


def index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("compliance", "0018_scan_severity_counts"),
    ]

    operations = [
        migrations.RunPython(index_create, index_drop, elidable=False),
    ]

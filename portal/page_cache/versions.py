"""The data version: which committed state of the watched tables a page was read from.

Every statement that writes a watched table (INSERT, UPDATE, DELETE, TRUNCATE, COPY) runs a
statement trigger that adds its transaction's id to portal_datachange, once per transaction. The
version is the number of those rows that are visible (plus those folded away), with the newest
row's id and the database's epoch. A transaction's row becomes visible to others when it commits,
and PostgreSQL's snapshots only ever grow, so:

- a reader that reads version V and then the page's data reads a state at least as new as V:
  whatever it keeps under V is never older than V;
- every commit of a watched table makes the count, and so the version, move;
- a rolled-back write leaves no row.

A transaction that reads after its own writes (tests do) has a version of its own that moves
with each of them (`version_text`). A single counter row bumped by every writer would serialize
them on its lock; here each transaction writes a row of its own, once (about 5 microseconds a
statement after that). Tables whose writes no cached page shows (sessions, build logs, heartbeats,
lockout records, this machinery itself) are not watched, so those busy writes do not empty the
cache. Only PostgreSQL: on SQLite (the embedded defaults) there is no version and pages
are not cached."""
from django.apps import apps
from django.db import connection, connections

# Tables whose writes no cached page reads, each for a reason; every other table of every model is watched.
UNWATCHED = {
    "portal_datachange", "portal_dataversion",  # the version itself
    "django_session", "django_migrations",  # sign-ins and schema, not data a page shows
    "axes_accessattempt", "axes_accessattemptexpiration", "axes_accessfailurelog", "axes_accesslog",  # lockout
    "builds_buildlogchunk",  # a running build's log: the build page, never cached, reads it live
    "builds_workerheartbeat", "builds_reaperpass",  # workers' liveness, written every few seconds
    "builds_pushedlayer", "compliance_scannedlayer",  # where layers are, for pushes and scans
    "compliance_scancredential",  # a sealed registry credential waiting for a worker
}
FUNCTION = "portal_data_changed"
WRITES = "portal.writes"  # the transaction's own writes of watched tables so far
TRIGGER = "portal_data_version"


def watched_tables() -> list[str]:
    tables = {model._meta.db_table for model in apps.get_models(include_auto_created=True)
              if model._meta.managed and not model._meta.proxy}
    return sorted(tables - UNWATCHED)


def triggers_install(*, using: str = "default", **_signal) -> None:
    """The trigger function, the version row and a trigger on each watched table that exists.
    Run after every `migrate` (post_migrate), so a table a new model adds is watched as soon as it
    exists; idempotent. Nothing on other databases than PostgreSQL."""
    db = connections[using]
    if db.vendor != "postgresql":
        return
    existing = set(db.introspection.table_names())
    if "portal_datachange" not in existing:
        return  # migrated to before the version's tables: the next migrate installs it
    quote = db.ops.quote_name
    with db.cursor() as cursor:
        # The transaction's row is written by its first write only; later ones just count in a
        # setting of the transaction (gone with it, or with a savepoint rolled back, like the row):
        # updating the row on every statement piled up versions of it, 0.2 ms a statement.
        cursor.execute(f"""
            CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                writes bigint := coalesce(nullif(current_setting('{WRITES}', true), ''), '0')::bigint;
            BEGIN
                IF writes = 0 THEN
                    INSERT INTO portal_datachange (txid) VALUES (txid_current()) ON CONFLICT (txid) DO NOTHING;
                END IF;
                PERFORM set_config('{WRITES}', (writes + 1)::text, true);
                RETURN NULL;
            END $$""")
        cursor.execute("INSERT INTO portal_dataversion (epoch, folded) SELECT md5(random()::text), 0"
                       " WHERE NOT EXISTS (SELECT 1 FROM portal_dataversion)")
        for table in watched_tables():
            if table in existing:
                cursor.execute(f"CREATE OR REPLACE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
                               f" ON {quote(table)} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")


# One row: the epoch, the changes counted (folded and visible), the newest change's id; and, in a
# transaction that wrote, its id and how many of its statements wrote watched tables.
VERSION_QUERY = ("SELECT (SELECT epoch FROM portal_dataversion ORDER BY id LIMIT 1),"
                 " coalesce((SELECT folded FROM portal_dataversion ORDER BY id LIMIT 1), 0) + count(*), max(id),"
                 f" txid_current_if_assigned(), nullif(current_setting('{WRITES}', true), '')"
                 " FROM portal_datachange")


def version_text(row: tuple) -> str:
    """A transaction reading what it wrote itself (tests do; pages are read outside one) has a
    version of its own, which moves with each of its writes."""
    epoch, changes, newest, txid, writes = row
    own = f".{txid}:{writes or 0}" if txid else ""
    return f"{epoch or '-'}.{changes}.{newest or 0}{own}"


def data_version() -> str | None:
    """The version of the watched data as this moment's committed state has it, or None where
    there is none (not PostgreSQL). One read of a table kept small by `changes_fold`."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(VERSION_QUERY)
        return version_text(cursor.fetchone())


def changes_fold() -> int:
    """Fold the change rows into the version row's count, in one statement (so no reader sees the
    rows gone without the count grown): the version stays the same, and counting it stays cheap.
    The newest row stays, as the version names its id. Returns how many were folded."""
    with connection.cursor() as cursor:
        cursor.execute("""
            WITH gone AS (DELETE FROM portal_datachange WHERE id < (SELECT max(id) FROM portal_datachange) RETURNING 1),
                 counted AS (SELECT count(*) AS n FROM gone)
            UPDATE portal_dataversion SET folded = folded + counted.n FROM counted RETURNING counted.n""")
        row = cursor.fetchone()
    return row[0] if row else 0

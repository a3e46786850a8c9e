"""A finding's references (its scan, its package, its advisory) checked once per statement, not
once per row.

PostgreSQL checks a foreign key one row at a time: each inserted finding ran three lookups at
commit, and each first lookup of a package locked and wrote that package's row. After an import
whose records named packages across the fleet, the checks of 240,000 new findings took 4.5-6.3 s,
more than writing them (bench/reevaluate_many.py). The three constraints become statement-level
triggers reading the statement's transition table, with the same guarantee:

- A written finding (INSERT, COPY, or an UPDATE of its references) must name a package of the
  scan it names (one constraint where there were two: the two could disagree before) and an
  advisory that exist. The statement first takes a KEY SHARE lock on the scans and advisories it
  names (thousands of rows, not one lock per package), then looks with a fresh snapshot.
- A package deleted (or whose id or scan changes) must leave no finding behind: the statement
  first takes an UPDATE lock on the packages' scans, so it waits for any transaction writing
  findings of those scans, then looks; an advisory likewise (its own deletion waits for the KEY
  SHARE lock). TRUNCATE of the packages or advisories alone, with findings left, is refused.
- Errors are foreign_key_violation (SQLSTATE 23503), an IntegrityError to Django, as before.

Unlike Django's constraints, the checks are not deferred to commit: the portal writes packages
and advisories before their findings. The locking reasoning holds under READ COMMITTED, the
portal's isolation level. Deleting through the ORM cascades as before (Django deletes the findings
first). SQLite (the development default) keeps its constraints and gets a row-level trigger for
the new rule.
"""
from django.db import migrations, models
import django.db.models.deletion

FINDING, PACKAGE, SCAN, ADVISORY = "compliance_finding", "compliance_sbompackage", "compliance_imagescan", "compliance_advisory"
VIOLATION = "foreign_key_violation"

_LOOK_AT_FINDINGS = f"""
    SELECT n.id, n.scan_id, n.package_id, n.advisory_id, p.id IS NULL AS no_package INTO bad FROM {{rows}} n
        LEFT JOIN {PACKAGE} p ON p.id = n.package_id AND p.scan_id = n.scan_id
        LEFT JOIN {ADVISORY} a ON a.id = n.advisory_id
        WHERE p.id IS NULL OR a.id IS NULL LIMIT 1;
    IF FOUND THEN
        RAISE {VIOLATION} USING TABLE = '{FINDING}', MESSAGE = CASE WHEN bad.no_package
            THEN format('finding %s names package %s of scan %s: the scan has no such package', bad.id, bad.package_id, bad.scan_id)
            ELSE format('finding %s names advisory %s, which does not exist', bad.id, bad.advisory_id) END;
    END IF;"""

POSTGRESQL = [
    # Findings written: once per statement, on the statement's rows.
    f"""CREATE FUNCTION compliance_finding_references_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    -- Lock first, then look: a deletion of these scans' packages, or of these advisories, waits
    -- for this transaction, and the look below sees what committed before the locks were granted.
    PERFORM 1 FROM {SCAN} WHERE id IN (SELECT scan_id FROM new_findings) ORDER BY id FOR KEY SHARE;
    PERFORM 1 FROM {ADVISORY} WHERE id IN (SELECT advisory_id FROM new_findings) ORDER BY id FOR KEY SHARE;
    {_LOOK_AT_FINDINGS.format(rows="new_findings")}
    RETURN NULL;
END $$""",
    f"CREATE TRIGGER compliance_finding_references_insert AFTER INSERT ON {FINDING} REFERENCING NEW TABLE AS new_findings "
    "FOR EACH STATEMENT EXECUTE FUNCTION compliance_finding_references_check()",
    # A finding whose references change (the portal never does it): row by row, only then.
    f"""CREATE FUNCTION compliance_finding_reference_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    PERFORM 1 FROM {SCAN} WHERE id = NEW.scan_id FOR KEY SHARE;
    PERFORM 1 FROM {ADVISORY} WHERE id = NEW.advisory_id FOR KEY SHARE;
    {_LOOK_AT_FINDINGS.format(rows="(SELECT NEW.id, NEW.scan_id, NEW.package_id, NEW.advisory_id)")}
    RETURN NULL;
END $$""",
    f"CREATE TRIGGER compliance_finding_references_update AFTER UPDATE OF scan_id, package_id, advisory_id ON {FINDING} "
    "FOR EACH ROW WHEN (OLD.scan_id <> NEW.scan_id OR OLD.package_id <> NEW.package_id OR OLD.advisory_id <> NEW.advisory_id) "
    "EXECUTE FUNCTION compliance_finding_reference_changed()",
    # Packages deleted: once per statement (a scan's hundreds go together).
    f"""CREATE FUNCTION compliance_sbompackage_findings_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    -- A transaction writing findings holds their scans FOR KEY SHARE: wait for it, then look.
    PERFORM 1 FROM {SCAN} WHERE id IN (SELECT scan_id FROM old_packages) ORDER BY id FOR UPDATE;
    SELECT f.id, f.package_id INTO bad FROM old_packages o JOIN {FINDING} f ON f.package_id = o.id LIMIT 1;
    IF FOUND THEN
        RAISE {VIOLATION} USING TABLE = '{PACKAGE}',
            MESSAGE = format('package %s is still named by finding %s', bad.package_id, bad.id);
    END IF;
    RETURN NULL;
END $$""",
    f"CREATE TRIGGER compliance_sbompackage_findings_delete AFTER DELETE ON {PACKAGE} REFERENCING OLD TABLE AS old_packages "
    "FOR EACH STATEMENT EXECUTE FUNCTION compliance_sbompackage_findings_check()",
    # A package or an advisory whose key changes, and an advisory deleted (imports never delete
    # one; a transition table would hold whole records): row by row, as a foreign key did.
    f"""CREATE FUNCTION compliance_findings_named_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    finding bigint;
BEGIN
    IF TG_TABLE_NAME = '{PACKAGE}' THEN
        PERFORM 1 FROM {SCAN} WHERE id = OLD.scan_id FOR UPDATE;  -- as above
        SELECT id INTO finding FROM {FINDING} WHERE package_id = OLD.id LIMIT 1;
    ELSE  -- deleting or re-keying the advisory waited for the KEY SHARE locks of its findings' writers
        SELECT id INTO finding FROM {FINDING} WHERE advisory_id = OLD.id LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE {VIOLATION} USING TABLE = TG_TABLE_NAME,
            MESSAGE = format('%s %s is still named by finding %s', TG_TABLE_NAME, OLD.id, finding);
    END IF;
    RETURN NULL;
END $$""",
    f"CREATE TRIGGER compliance_sbompackage_findings_update AFTER UPDATE OF id, scan_id ON {PACKAGE} FOR EACH ROW "
    "WHEN (OLD.id <> NEW.id OR OLD.scan_id <> NEW.scan_id) EXECUTE FUNCTION compliance_findings_named_check()",
    f"CREATE TRIGGER compliance_advisory_findings_delete AFTER DELETE ON {ADVISORY} FOR EACH ROW "
    "EXECUTE FUNCTION compliance_findings_named_check()",
    f"CREATE TRIGGER compliance_advisory_findings_update AFTER UPDATE OF id ON {ADVISORY} FOR EACH ROW "
    "WHEN (OLD.id <> NEW.id) EXECUTE FUNCTION compliance_findings_named_check()",
    # TRUNCATE: after every table of the statement is emptied (findings truncated with it are gone).
    f"""CREATE FUNCTION compliance_findings_left_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM {FINDING}) THEN
        RAISE {VIOLATION} USING TABLE = TG_TABLE_NAME,
            MESSAGE = format('%s cannot be truncated while findings are stored', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END $$""",
    *[f"CREATE TRIGGER {table}_findings_truncate AFTER TRUNCATE ON {table} FOR EACH STATEMENT "
      "EXECUTE FUNCTION compliance_findings_left_check()" for table in (PACKAGE, ADVISORY)],
]
POSTGRESQL_DROP = [
    *[f"DROP TRIGGER IF EXISTS {name} ON {table}" for name, table in (
        ("compliance_finding_references_insert", FINDING), ("compliance_finding_references_update", FINDING),
        ("compliance_sbompackage_findings_delete", PACKAGE), ("compliance_sbompackage_findings_update", PACKAGE),
        ("compliance_advisory_findings_delete", ADVISORY), ("compliance_advisory_findings_update", ADVISORY),
        (f"{PACKAGE}_findings_truncate", PACKAGE), (f"{ADVISORY}_findings_truncate", ADVISORY))],
    *[f"DROP FUNCTION IF EXISTS {name}()" for name in (
        "compliance_finding_references_check", "compliance_finding_reference_changed", "compliance_sbompackage_findings_check",
        "compliance_findings_named_check", "compliance_findings_left_check")],
]

# SQLite (the development default) keeps the constraints it was created with (dropping one there
# rebuilds the table, and its triggers with it): only the new rule needs a trigger.
_SQLITE_FINDING_OK = f"EXISTS (SELECT 1 FROM {PACKAGE} p WHERE p.id = NEW.package_id AND p.scan_id = NEW.scan_id)"
SQLITE = [
    f"CREATE TRIGGER compliance_finding_references_{event} BEFORE {on} ON {FINDING} WHEN NOT ({_SQLITE_FINDING_OK}) "
    "BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: a finding names a package of another scan'); END"
    for event, on in (("insert", "INSERT"), ("update", "UPDATE OF scan_id, package_id"))]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS compliance_finding_references_insert",
               "DROP TRIGGER IF EXISTS compliance_finding_references_update"]

# PostgreSQL: the constraints Django made, dropped by what they are (their names carry a hash).
FOREIGN_KEYS = f"SELECT conname FROM pg_constraint WHERE conrelid = '{FINDING}'::regclass AND contype = 'f'"
RESTORED = [f"ALTER TABLE {FINDING} ADD CONSTRAINT {FINDING}_{column}_fk FOREIGN KEY ({column}) REFERENCES {table} (id) "
            "DEFERRABLE INITIALLY DEFERRED" for column, table in (("scan_id", SCAN), ("package_id", PACKAGE), ("advisory_id", ADVISORY))]


def constraints_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FOREIGN_KEYS)
        names = [name for (name,) in cursor.fetchall()]
    for name in names:
        schema_editor.execute(f"ALTER TABLE {FINDING} DROP CONSTRAINT {schema_editor.quote_name(name)}")


def constraints_restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in RESTORED:
            schema_editor.execute(statement)


MISMATCHED = f"""SELECT count(*) FROM {FINDING} f LEFT JOIN {PACKAGE} p ON p.id = f.package_id
                 WHERE p.scan_id IS DISTINCT FROM f.scan_id"""


def checks_create(apps, schema_editor):
    """Refuse to go on if a stored finding already breaks the new rule (its package belongs to
    another scan: the two old constraints allowed it), then start checking. In the migration's
    transaction, with the findings locked against writes between the look and the triggers."""
    postgresql = schema_editor.connection.vendor == "postgresql"
    if postgresql:
        schema_editor.execute(f"LOCK TABLE {FINDING} IN SHARE MODE")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(MISMATCHED)
        (mismatched,) = cursor.fetchone()
    if mismatched:
        raise RuntimeError(f"{mismatched} stored findings name a package of another scan than their own; "
                           "delete or correct them (compliance_finding.scan_id must be the package's scan_id) and migrate again")
    with schema_editor.connection.cursor() as cursor:  # without parameters: format()'s %s stays as written
        for statement in POSTGRESQL if postgresql else SQLITE:
            cursor.execute(statement)


def checks_drop(apps, schema_editor):
    for statement in POSTGRESQL_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0023_advisory_lookup_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AlterField(
                model_name='finding', name=name,
                field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE,
                                        related_name='findings', to=f'compliance.{to}', **extra),
            ) for name, to, extra in (('advisory', 'advisory', {}), ('package', 'sbompackage', {}),
                                      ('scan', 'imagescan', {'db_index': False}))],
            database_operations=[migrations.RunPython(constraints_drop, constraints_restore)],
        ),
        migrations.RunPython(checks_create, checks_drop),
    ]

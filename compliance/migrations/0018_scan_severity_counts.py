"""Per-scan severity counts (ScanSeverityCount), kept by triggers on compliance_finding, and
back-filled from the findings already stored.

PostgreSQL: one statement-level trigger per event, reading the statement's transition tables,
so a COPY or a DELETE of 250,000 findings updates the counts with one grouped statement, not a
function call per row. Deletions only lower counts that exist and drop the ones that reach zero,
never insert: when a scan is deleted its counts may go before its findings, and a row inserted
then would name a scan about to disappear. SQLite (the development default) has no transition
tables: row-level triggers do the same one finding at a time.
"""

import django.db.models.deletion
from django.db import migrations, models



COUNTS = "compliance_scanseveritycount"
CHANGES = "compliance_scanseveritycount_changed"  # PostgreSQL: the sequence `changed` is drawn from

POSTGRESQL_FUNCTION = f"""
CREATE FUNCTION compliance_finding_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    change bigint := nextval('{CHANGES}');
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE {COUNTS} c SET total = c.total - o.total, fixable = c.fixable - o.fixable, changed = change
        FROM (SELECT scan_id, severity, count(*) AS total, count(*) FILTER (WHERE fixed_version <> '') AS fixable
              FROM old_findings GROUP BY scan_id, severity) o
        WHERE c.scan_id = o.scan_id AND c.severity = o.severity;
        DELETE FROM {COUNTS} c USING (SELECT DISTINCT scan_id FROM old_findings) o
        WHERE c.scan_id = o.scan_id AND c.total <= 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO {COUNTS} (scan_id, severity, total, fixable, changed)
        SELECT scan_id, severity, count(*), count(*) FILTER (WHERE fixed_version <> ''), change
        FROM new_findings GROUP BY scan_id, severity
        ON CONFLICT (scan_id, severity) DO UPDATE
        SET total = {COUNTS}.total + EXCLUDED.total, fixable = {COUNTS}.fixable + EXCLUDED.fixable, changed = change;
    END IF;
    RETURN NULL;
END $$;
"""
POSTGRESQL_TRIGGERS = [
    "CREATE TRIGGER compliance_finding_counts_insert AFTER INSERT ON compliance_finding "
    "REFERENCING NEW TABLE AS new_findings FOR EACH STATEMENT EXECUTE FUNCTION compliance_finding_counts_apply()",
    "CREATE TRIGGER compliance_finding_counts_delete AFTER DELETE ON compliance_finding "
    "REFERENCING OLD TABLE AS old_findings FOR EACH STATEMENT EXECUTE FUNCTION compliance_finding_counts_apply()",
    "CREATE TRIGGER compliance_finding_counts_update AFTER UPDATE ON compliance_finding "
    "REFERENCING OLD TABLE AS old_findings NEW TABLE AS new_findings FOR EACH STATEMENT "
    "EXECUTE FUNCTION compliance_finding_counts_apply()",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS compliance_finding_counts_insert ON compliance_finding",
    "DROP TRIGGER IF EXISTS compliance_finding_counts_delete ON compliance_finding",
    "DROP TRIGGER IF EXISTS compliance_finding_counts_update ON compliance_finding",
    "DROP FUNCTION IF EXISTS compliance_finding_counts_apply()",
    f"DROP SEQUENCE IF EXISTS {CHANGES}",
]

# No sequences in SQLite: one more than the largest in use (a count deleted at zero may let a
# value come back, on another row; good enough for the development default).
_SQLITE_CHANGE = f"(SELECT coalesce(max(changed), 0) + 1 FROM {COUNTS})"
_SQLITE_ADD = f"""INSERT INTO {COUNTS} (scan_id, severity, total, fixable, changed)
        VALUES (NEW.scan_id, NEW.severity, 1, NEW.fixed_version <> '', {_SQLITE_CHANGE})
        ON CONFLICT (scan_id, severity) DO UPDATE SET total = total + 1, fixable = fixable + excluded.fixable,
        changed = excluded.changed;"""
_SQLITE_REMOVE = f"""UPDATE {COUNTS} SET total = total - 1, fixable = fixable - (OLD.fixed_version <> ''),
        changed = {_SQLITE_CHANGE}
        WHERE scan_id = OLD.scan_id AND severity = OLD.severity;
        DELETE FROM {COUNTS} WHERE scan_id = OLD.scan_id AND severity = OLD.severity AND total <= 0;"""
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER compliance_finding_counts_insert AFTER INSERT ON compliance_finding BEGIN {_SQLITE_ADD} END",
    f"CREATE TRIGGER compliance_finding_counts_delete AFTER DELETE ON compliance_finding BEGIN {_SQLITE_REMOVE} END",
    f"CREATE TRIGGER compliance_finding_counts_update AFTER UPDATE ON compliance_finding BEGIN {_SQLITE_REMOVE} {_SQLITE_ADD} END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS compliance_finding_counts_insert",
    "DROP TRIGGER IF EXISTS compliance_finding_counts_delete",
    "DROP TRIGGER IF EXISTS compliance_finding_counts_update",
]

BACKFILL = f"""
INSERT INTO {COUNTS} (scan_id, severity, total, fixable, changed)
SELECT scan_id, severity, count(*), sum(CASE WHEN fixed_version <> '' THEN 1 ELSE 0 END), 0
FROM compliance_finding GROUP BY scan_id, severity
"""


def triggers_create(apps, schema_editor):
    """Back-fill, then start counting, inside the migration's transaction: no finding written in
    between is missed or counted twice (PostgreSQL; on SQLite a migration holds the whole file)."""
    postgresql = schema_editor.connection.vendor == "postgresql"
    if postgresql:
        schema_editor.execute("LOCK TABLE compliance_finding IN SHARE MODE")
    schema_editor.execute(BACKFILL)
    for statement in [f"CREATE SEQUENCE {CHANGES}", POSTGRESQL_FUNCTION, *POSTGRESQL_TRIGGERS] if postgresql else SQLITE_TRIGGERS:
        schema_editor.execute(statement)


def triggers_drop(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for statement in POSTGRESQL_DROP if postgresql else SQLITE_DROP:
        schema_editor.execute(statement)



class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0017_pypi_names_canonical'),
    ]

    operations = [
        migrations.CreateModel(
            name='ScanSeverityCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('severity', models.CharField(max_length=20)),
                ('total', models.IntegerField()),
                ('fixable', models.IntegerField()),
                ('changed', models.BigIntegerField(default=0)),
                ('scan', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='severity_counts', to='compliance.imagescan')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('scan', 'severity'), name='one_count_per_scan_and_severity')],
            },
        ),
        migrations.RunPython(triggers_create, triggers_drop),
    ]

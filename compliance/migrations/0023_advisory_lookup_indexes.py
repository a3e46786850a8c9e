"""Indexes for looking up advisories by vulnerability id (compliance/vulndb/lookup.py): a btree on
osv_id (the unique constraint leads with source) and a GIN index on aliases for `aliases @> '["id"]'`.
Before them, every CVE page, search and approval read the whole advisory table (`aliases::text ILIKE`).

Built in the migration's transaction, not CONCURRENTLY: 200,000 advisories index in about a
second (bench/advisory_lookup.py): an import writing meanwhile waits that long at most.
"""
import compliance.models
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0022_attestation_transparency_log'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='advisory',
            index=models.Index(fields=['osv_id'], name='compliance_advisory_osv_id'),
        ),
        migrations.AddIndex(
            model_name='advisory',
            index=compliance.models.GinIndexOnPostgres(fields=['aliases'], name='compliance_advisory_aliases'),
        ),
    ]

"""An imported report's advisories become the importing team's own (Advisory.team): a report of
one team rewrote the summary, aliases and record of the rows every team's report findings shared.
The rows already shared are split: each team whose findings point at one gets its own copy."""
import django.db.models.deletion
from django.db import migrations, models

REPORT_SOURCES = ("trivy", "grype")  # compliance/reports/parse.py: TOOLS, as of this migration


def split_shared_report_advisories(apps, schema_editor):
    Advisory = apps.get_model("compliance", "Advisory")
    Finding = apps.get_model("compliance", "Finding")
    for advisory in Advisory.objects.filter(source__in=REPORT_SOURCES, team__isnull=True).iterator():
        teams = set(Finding.objects.filter(advisory=advisory).values_list("scan__build__team_id", flat=True))
        # Findings of scans without a build (an operator's import) keep the row as it is, without a team.
        owners = sorted(team for team in teams if team is not None)
        if not owners:
            continue
        if None not in teams:
            first, owners = owners[0], owners[1:]
            Advisory.objects.filter(pk=advisory.pk).update(team_id=first)
        for team in owners:
            copy = Advisory.objects.create(
                source=advisory.source, osv_id=advisory.osv_id, modified=advisory.modified, published=advisory.published,
                withdrawn=advisory.withdrawn, aliases=advisory.aliases, summary=advisory.summary, record=advisory.record,
                import_run_id=advisory.import_run_id, team_id=team)
            Finding.objects.filter(advisory=advisory, scan__build__team_id=team).update(advisory=copy)


class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0027_policy_reevaluation_due'),
        ('portal', '0009_data_version'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='advisory',
            name='unique_advisory_per_source',
        ),
        migrations.AddField(
            model_name='advisory',
            name='team',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.team'),
        ),
        migrations.RunPython(split_shared_report_advisories, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='advisory',
            constraint=models.UniqueConstraint(condition=models.Q(('team__isnull', True)), fields=('source', 'osv_id'), name='unique_advisory_per_source'),
        ),
        migrations.AddConstraint(
            model_name='advisory',
            constraint=models.UniqueConstraint(condition=models.Q(('team__isnull', False)), fields=('source', 'osv_id', 'team'), name='unique_report_advisory_per_team'),
        ),
    ]

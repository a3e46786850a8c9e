"""PolicyReevaluationDue: a rule or approved-base change owes every verdict it concerns an evaluation,
kept until one covered it, so a lost message or a dead worker does not leave verdicts of the old rules."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0026_alert_owed'),
        ('portal', '0009_data_version'),
    ]

    operations = [
        migrations.CreateModel(
            name='PolicyReevaluationDue',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('trigger', models.CharField(help_text="policy-change or base-change: the verdicts' trigger", max_length=30)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('team', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.team')),
            ],
            options={
                'ordering': ['pk'],
            },
        ),
    ]

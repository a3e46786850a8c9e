"""ReevaluationDue: what each batch of an import changed, kept until a re-evaluation covered it, so an
import or a re-evaluation stopped half-way is finished by the next one (compliance/vulndb/reevaluation.py)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0024_finding_references_by_statement'),
    ]

    operations = [
        migrations.CreateModel(
            name='ReevaluationDue',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('pairs', models.JSONField(default=list, help_text='[ecosystem, name] pairs whose advisories the batch changed')),
                ('advisories', models.JSONField(default=list, help_text='Ids of the advisories the batch added, updated or withdrew')),
                ('attempts', models.PositiveIntegerField(default=0, help_text='Re-evaluations that started on this row')),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('import_run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='compliance.importrun')),
            ],
            options={
                'ordering': ['pk'],
            },
        ),
    ]

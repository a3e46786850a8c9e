"""AlertOwed: an alert is kept with the verdict that flipped until it is sent, so a process that dies
before sending it does not lose it (compliance/alerts.py)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('builds', '0016_pushed_layers'),
        ('compliance', '0025_reevaluation_due'),
    ]

    operations = [
        migrations.CreateModel(
            name='AlertOwed',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('build', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='builds.build')),
                ('verdict', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='compliance.verdict')),
            ],
            options={
                'ordering': ['pk'],
            },
        ),
    ]

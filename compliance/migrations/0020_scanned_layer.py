"""Layer records (ScannedLayer): a layer read once is replayed, not downloaded, by later scans."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0019_sbom_package_name_prefix_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='ScannedLayer',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('source', models.CharField(blank=True, help_text="Registry URL when not the portal's own", max_length=300)),
                ('digest', models.CharField(max_length=80)),
                ('recipe', models.CharField(max_length=64)),
                ('record', models.BinaryField(help_text='JSON of the record, zlib-compressed')),
                ('size', models.PositiveIntegerField(help_text='Bytes of the stored record')),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('used', models.DateTimeField(help_text='Last read by a scan (to the day)')),
            ],
            options={
                'indexes': [models.Index(fields=['used'], name='compliance_scannedlayer_used')],
                'constraints': [models.UniqueConstraint(fields=('source', 'digest', 'recipe'), name='one_record_per_layer')],
            },
        ),
    ]

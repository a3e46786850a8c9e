"""Migration 0017 re-spells stored PyPI names as PEP 503 does, and leaves other ecosystems alone."""
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE, AFTER = [("compliance", "0016_scan_cyclonedx")], [("compliance", "0017_pypi_names_canonical")]


def test_it_respells_pypi_names_and_nothing_else():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Advisory, AffectedPackage = apps.get_model("compliance", "Advisory"), apps.get_model("compliance", "AffectedPackage")
    advisory = Advisory.objects.create(source="osv", osv_id="PYSEC-TEST-1", modified=timezone.now(), record={})
    for ecosystem, name in (("PyPI", "PyYAML"), ("PyPI", "jw.util"), ("PyPI", "requests"), ("npm", "JSONStream"),
                            ("Maven", "org.Example:Lib")):
        AffectedPackage.objects.create(advisory=advisory, ecosystem=ecosystem, name=name)
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        apps = executor.loader.project_state(AFTER).apps
        names = set(apps.get_model("compliance", "AffectedPackage").objects.values_list("ecosystem", "name"))
        assert names == {("PyPI", "pyyaml"), ("PyPI", "jw-util"), ("PyPI", "requests"), ("npm", "JSONStream"),
                         ("Maven", "org.Example:Lib")}
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

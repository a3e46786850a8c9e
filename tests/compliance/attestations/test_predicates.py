"""The verdict predicate follows its published JSON schema and says until when it holds; provenance
records every input by checksum and never a script's text."""
import json
from datetime import datetime, timedelta, timezone

import jsonschema
import pytest

from compliance.attestations.predicates import (
    VERDICT_PREDICATE_TYPE,
    AppliedException,
    BuildRecord,
    VerdictRecord,
    provenance,
    sha256_text,
    verdict,
    verdict_schema,
    verdict_valid_until,
)

EVALUATED = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def _record(**changes) -> VerdictRecord:
    values = dict(verdict_id=3, build_id=7, team="payments", state="pass", passed=True, evaluated=EVALUATED,
                  trigger="build", policy_version="6", ruleset_sha256="f" * 64,
                  results=[{"rule": "non-root", "title": "Non-root runtime user", "status": "pass"},
                           {"rule": "vulnerability-threshold", "title": "No Critical", "status": "waived"}],
                  counts={"High": 2, "Critical": 1}, data_version=12, data_imported=EVALUATED - timedelta(days=1),
                  data_max_age_days=7)
    values.update(changes)
    return VerdictRecord(**values)


def test_the_verdict_follows_its_schema_and_the_schema_is_strict():
    exception = AppliedException(4, "vulnerability", "CVE-2026-0001", EVALUATED + timedelta(days=2))
    document = verdict(_record(exceptions=[exception]))
    schema = verdict_schema()
    assert schema["$id"] == VERDICT_PREDICATE_TYPE
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(document, schema, format_checker=jsonschema.FormatChecker())
    assert document["findings"] == {"Critical": 1, "High": 2, "Medium": 0, "Low": 0, "Negligible": 0, "Unknown": 0}
    assert document["exceptions"] == [{"id": 4, "targetKind": "vulnerability", "target": "CVE-2026-0001",
                                       "expiresAt": "2026-12-03T10:00:00Z"}]
    for broken in ({**document, "compliant": "yes"}, {**document, "extra": 1},
                   {k: v for k, v in document.items() if k != "validUntil"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


def test_a_blocked_or_not_assessed_verdict_is_not_compliant():
    assert verdict(_record())["compliant"] is True
    assert verdict(_record(state="blocked", passed=False))["compliant"] is False
    assert verdict(_record(state="not-assessed", passed=False, not_assessed="no data for debian"))["compliant"] is False
    # a team whose policy only warns about missing data publishes it: compliant, and the state says why it may not be
    warned = verdict(_record(state="not-assessed", passed=True, not_assessed="no data for debian",
                             results=[{"rule": "vulnerability-threshold", "title": "t", "status": "not_assessed"}]))
    assert warned["compliant"] is True and warned["state"] == "not-assessed"
    jsonschema.validate(warned, verdict_schema())


def test_it_holds_until_the_data_is_too_old_or_the_first_exception_expires():
    assert verdict_valid_until(_record()) == EVALUATED - timedelta(days=1) + timedelta(days=7)
    soon = AppliedException(1, "package", "openssl", EVALUATED + timedelta(hours=5))
    later = AppliedException(2, "rule", "non-root", EVALUATED + timedelta(days=3))
    assert verdict_valid_until(_record(exceptions=[later, soon])) == EVALUATED + timedelta(hours=5)
    # packages that need no vulnerability data: judged again after the same age, from the evaluation
    assert verdict_valid_until(_record(data_imported=None)) == EVALUATED + timedelta(days=7)
    # data older than its limit: already over when signed
    assert verdict_valid_until(_record(data_imported=EVALUATED - timedelta(days=9))) < EVALUATED


def _build_record(snapshot) -> BuildRecord:
    return BuildRecord(portal_url="https://portal.example", build_id=7, team="payments", recipe="orders-api",
                       kind="composed", snapshot=snapshot, composition_sha256="c" * 64,
                       started=EVALUATED, finished=EVALUATED + timedelta(seconds=40), worker="builder-1@host",
                       dockerfile="FROM x\n", script_stage="FROM y\n")


def test_provenance_records_inputs_by_checksum_and_never_a_scripts_text():
    script = "#!/bin/sh\necho SECRET_TOKEN=abc\n"
    snapshot = {"base_reference": "127.0.0.1:5000/base/debian@sha256:" + "1" * 64, "image_script": script,
                "build_stage": {"script": "make dist", "base_reference": "127.0.0.1:5000/base/builder@sha256:" + "2" * 64},
                "components": [{"slug": "wget", "version": "1.21", "kind": "option", "fragment": "RUN apt-get install wget"}]}
    document = provenance(_build_record(snapshot))
    text = json.dumps(document)
    assert "SECRET_TOKEN" not in text and "make dist" not in text and "apt-get install" not in text
    definition = document["buildDefinition"]
    assert definition["internalParameters"] == {"compositionSha256": "c" * 64}
    recorded = definition["externalParameters"]["snapshot"]
    assert recorded["image_script_sha256"] == sha256_text(script)
    assert recorded["build_stage"]["script_sha256"] == sha256_text("make dist")
    dependencies = {d["name"]: d for d in definition["resolvedDependencies"]}
    assert dependencies["base"] == {"name": "base", "uri": "oci://127.0.0.1:5000/base/debian", "digest": {"sha256": "1" * 64}}
    assert dependencies["build-stage base"]["digest"] == {"sha256": "2" * 64}
    assert dependencies["component wget"]["annotations"]["version"] == "1.21"
    assert any(d.get("digest") == {"sha256": sha256_text(script)} for d in definition["resolvedDependencies"])
    run = document["runDetails"]
    assert run["builder"]["id"] == "https://portal.example/builders/docker-engine/v1"
    assert run["metadata"] == {"invocationId": "https://portal.example/builds/7", "startedOn": "2026-12-01T10:00:00Z",
                               "finishedOn": "2026-12-01T10:00:40Z"}
    assert snapshot["image_script"] == script, "the caller's snapshot is left as it was"

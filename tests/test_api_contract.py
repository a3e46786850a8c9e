"""The API keeps the contract its OpenAPI schema (/api/schema/) states, under a bounded fuzzing run.

Schemathesis generates requests from the schema the portal serves, for every operation, as a
team member and as a platform admin: data the schema calls valid (on the member's real objects,
and on ids nobody may see) and data it calls invalid. Each answer must be one the schema lists
(status, content type, body shape), never a 5xx; invalid data must be refused; and valid data
must never be refused by the serializer's own field checks (a blank name, a missing field, a
NUL character), which would mean the schema promises what the API refuses.

Bounded and repeatable: a fixed number of examples per operation, derandomized (the same
requests on every run), no example database. No real build starts: every request runs inside the
test's transaction, rolled back after it, and a transaction that never commits never runs its
`on_commit` callbacks, which is where builds are dispatched (builds.services.build_request) and
re-evaluations queued. The dispatch is also replaced by a recorder the test checks stays empty.

The schemathesis pytest plugin's `from_fixture` does not run under pytest 9 (it reads a private
attribute that is gone), so the test drives each operation's Hypothesis strategy itself.
"""
import json
import os
import re

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import fields as drf_fields
from rest_framework import serializers as drf_serializers
from schemathesis.checks import not_a_server_error
from schemathesis.core.mutations import OperatorKind
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from builds.dockerfile.services import recipe_save_dockerfile
from builds.team_scripts.services import team_script_save
from catalog.models import BaseImage, ProposalState
from compliance.exceptions.services import exception_request
from compliance.models import Advisory, Finding, ImageScan, PolicyRule, SbomPackage
from compliance.policy.evaluation import verdict_evaluate
from portal.models import GlobalRole
from portal.people.invitations import invitation_create
from tests.factories import UserFactory, api_token_for, with_role

# Per operation, role and kind of data (valid on real objects, valid anywhere, invalid): about a
# minute for the whole API. API_CONTRACT_EXAMPLES=50 runs a deeper search, still repeatable.
EXAMPLES = int(os.environ.get("API_CONTRACT_EXAMPLES", "6"))
METHODS = ("get", "put", "post", "patch", "delete")


def _operations() -> list[tuple[str, str]]:
    document = SchemaGenerator().get_schema(request=None, public=True)
    return [(path, method.upper()) for path, item in document["paths"].items() for method in item if method in METHODS]


OPERATIONS = _operations()


def _field_message_patterns() -> list[re.Pattern]:
    """DRF's own messages for a value of the wrong form (blank, missing, too long, not a number...),
    taken from its field classes, as patterns. A 400 carrying one for schema-valid data means the
    schema allowed a form the serializer refuses. Messages about data (an unknown slug, a name
    taken) come from the services and are a legitimate 400 for valid data."""
    templates = set()
    for module in (drf_fields, drf_serializers):
        for value in vars(module).values():
            # Not the relations' "no object with slug=x": that one is about data, not form.
            if isinstance(value, type) and issubclass(value, drf_fields.Field) and value.__module__ == module.__name__:
                for cls in value.__mro__:
                    templates.update(str(m) for m in getattr(cls, "default_error_messages", {}).values())
    templates.update(["Null characters are not allowed.", "Surrogate characters are not allowed: {code_point}."])
    return [re.compile(re.sub(r"\\\{\w+\\\}", ".*", re.escape(t)) + r"\Z", re.S) for t in templates]


FIELD_MESSAGES = _field_message_patterns()


def _messages(body):
    if isinstance(body, str):
        yield body
    elif isinstance(body, list):
        for item in body:
            yield from _messages(item)
    elif isinstance(body, dict):
        for item in body.values():
            yield from _messages(item)


def valid_data_passes_field_checks(ctx, response, case):
    """Schema-valid data refused by a serializer's field check: the schema is looser than the API."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 400:
        return None
    refused = [m for m in _messages(response.json()) if any(p.match(m) for p in FIELD_MESSAGES)]
    if refused:
        raise AssertionError(f"schema-valid data refused by a field check: {refused} for {case.body!r} {case.query!r}")
    return None


# DRF's leniencies, kept on purpose: its CharField reads a JSON number as its text (5 as "5") and
# its BooleanField reads 0 and 1 as false and true, as clients of most JSON APIs expect.
LENIENT_TYPES = {("string", "integer"), ("string", "number"), ("boolean", "integer"), ("boolean", "number")}


def invalid_data_is_refused(ctx, response, case):
    """Schemathesis's negative-data check, but for DRF's leniencies (LENIENT_TYPES): every other
    violation of the schema (a wrong type, a missing field, a pattern, a length, an unknown choice)
    must be refused."""
    mutations = getattr(case.meta.phase.data, "mutations", None) if case.meta else None
    if mutations and all(m.operator == OperatorKind.CHANGE_TYPE and (m.original_value, m.new_value) in LENIENT_TYPES
                         for m in mutations):
        return None
    return negative_data_rejection(ctx, response, case)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, invalid_data_is_refused, valid_data_passes_field_checks]


@pytest.fixture(scope="module")
def served_schema(django_db_blocker):
    """The document /api/schema/ serves: that, not the generator's output, is the contract."""
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


@pytest.fixture(scope="module")
def api(served_schema):
    """The schema loaded once (it takes a second), sending its requests to the portal's WSGI application."""
    loaded = schemathesis.openapi.from_dict(served_schema)
    loaded.app = WSGIHandler()
    return loaded


@pytest.fixture
def same_connection(db):
    """A request's end must not close the database connection: it holds the test's transaction
    (Django's test client does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def dispatched(monkeypatch):
    sent = []
    monkeypatch.setattr("builds.services.build_dispatch", sent.append)
    return sent


@pytest.fixture
def objects(team, member, recipe, build, busybox, runtime_user):
    """The member's team's objects, by the path parameter that names them in each collection."""
    script = team_script_save(user=member, team=team, name="maven-settings", kind="build-env", text="#!/bin/sh\necho hi\n").script
    own = recipe_save_dockerfile(user=member, team=team, name="own-image", dockerfile="FROM base/busybox:1.35\nUSER 1000\n",
                                 build_args={}, context=None)
    exception = exception_request(user=member, scope="recipe", recipe=recipe, target_kind="vulnerability", target="CVE-2024-0001",
                                  reason="fix_pending", justification="Upstream fix lands next week; internal service.",
                                  expires_at=timezone.now() + timezone.timedelta(days=10), end_when_fixed=False)
    proposal = BaseImage.objects.create(slug="team-base", name="Team base", repository="published/payments/pay-api", tag="1",
                                        digest="sha256:" + "7" * 64, layer_digests=["sha256:" + "2" * 64], os_family="busybox",
                                        approved=False, proposal_state=ProposalState.PENDING, source_build=build)
    rule = PolicyRule.objects.create(team=team, kind="non-root-user", action="warn", note="payments override")
    # The build has a scan and a verdict (not assessed: a Debian package and no data), so their shapes are checked too.
    scan = ImageScan.objects.create(build=build, digest="sha256:" + "5" * 64, status="done", os_id="debian", os_version="12",
                                    facts={"repository": "quarantine/payments/pay-api", "digest": "sha256:" + "5" * 64})
    SbomPackage.objects.create(scan=scan, name="libssl3", version="3.0.11-1", source_name="openssl", source_version="3.0.11-1")
    verdict_evaluate(build=build)
    invitation, _ = invitation_create(user=with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN),
                                      email="new@example.com", team=team)
    # And an imported Trivy finding beside a package of our own scan, so the comparison answers 200 with rows.
    SbomPackage.objects.create(scan=scan, name="zlib1g", version="1:1.2.13", source_name="zlib", layer_index=0)
    trivy = Advisory.objects.create(source="trivy", osv_id="CVE-2024-0727", modified=timezone.now(), record={})
    Finding.objects.create(scan=scan, package=scan.packages.get(name="libssl3"), advisory=trivy, vulnerability_id="CVE-2024-0727",
                           installed_version="3.0.11-1", severity="Medium", severity_source="trivy")
    return {"/api/builds/": {"id": build.pk, "build_id": build.pk}, "/api/recipes/": {"id": recipe.pk},
            "/api/dockerfile-recipes/": {"id": own.pk}, "/api/team-scripts/": {"id": script.pk},
            "/api/exceptions/": {"id": exception.pk}, "/api/policy/rules/": {"id": rule.pk},
            "/api/catalog/base-proposals/": {"slug": proposal.slug}, "/api/catalog/bases/": {"slug": busybox.slug},
            "/api/catalog/components/": {"slug": runtime_user.component.slug},
            "/api/catalog/versions/": {"id": runtime_user.pk},
            "/api/teams/": {"slug": team.slug, "membership_id": member.memberships.get(team=team).pk},
            "/api/people/invitations/": {"id": invitation.pk}, "/api/people/": {"id": member.pk}}


def test_the_run_covers_every_operation_served(served_schema):
    served = [(path, method.upper()) for path, item in served_schema["paths"].items() for method in item if method in METHODS]
    assert sorted(served) == sorted(OPERATIONS)


@pytest.mark.parametrize("role", ["member", "admin"])
@pytest.mark.parametrize("path, method", OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_each_answer_keeps_the_schema(role, path, method, api, same_connection, dispatched, member, objects):
    user = member if role == "member" else with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    credentials = {"Authorization": f"Token {api_token_for(user)}"}
    operation = api[path][method]
    known = next((ids for prefix, ids in objects.items() if path.startswith(prefix)), {})
    known = {p.name: known[p.name] for p in operation.path_parameters if p.name in known}
    strategy = st.one_of(operation.as_strategy(path_parameters=known), operation.as_strategy(),
                         operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, path_parameters=known))

    @settings(max_examples=EXAMPLES * 3, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def answer_keeps_the_schema(case):
        with transaction.atomic():  # each request sees the same objects, and nothing commits
            response = case.call(headers=credentials)
            transaction.set_rollback(True)
        case.validate_response(response, checks=CHECKS)

    answer_keeps_the_schema()
    assert dispatched == [], "a request dispatched a real build"

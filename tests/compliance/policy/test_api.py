"""Policy rules through the API, the admin and the policy page: everyone reads what applies to
them, only platform admins write, every write is audited, bad params are field errors."""
import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from compliance.models import PolicyRule
from compliance.policy.ruleset import ruleset_for
from portal.models import AuditEvent, GlobalRole
from tests.builds.test_api import api_for
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db
RULES = "/api/policy/rules/"
BANNED = {"kind": "banned-packages", "params": {"packages": [{"name": "telnet"}]}}


@pytest.fixture
def admin(db):
    return with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)


def test_a_member_reads_the_effective_policy_of_their_team(member, team):
    body = api_for(member).get(f"{RULES}effective/?team={team.slug}").json()
    assert body["version"] == ruleset_for(team).version
    assert [r["kind"] for r in body["rules"]][-1] == "vulnerability-threshold"
    assert {"title", "action", "params", "source", "error"} <= set(body["rules"][0])


def test_an_outsider_cannot_read_another_teams_policy(outsider, team, admin):
    PolicyRule.objects.create(team=team, kind="dockerfile-lint", action="warn")
    api = api_for(outsider)
    assert api.get(f"{RULES}effective/?team={team.slug}").status_code == 404
    assert api.get(f"{RULES}effective/").status_code == 200, "the global policy is public to signed-in users"
    assert all(row["team"] is None for row in api.get(RULES).json()["results"])


@pytest.mark.parametrize("who", ["member", "reviewer"])
def test_only_platform_admins_may_write_rules(member, reviewer, team, who):
    api = api_for({"member": member, "reviewer": reviewer}[who])
    assert api.post(RULES, {**BANNED, "team": team.slug}, format="json").status_code == 403
    seeded = PolicyRule.objects.get(team=None, kind="non-root-user")
    assert api.patch(f"{RULES}{seeded.pk}/", {"enabled": False}, format="json").status_code == 403
    assert api.delete(f"{RULES}{seeded.pk}/").status_code == 403
    seeded.refresh_from_db()
    assert seeded.enabled and not PolicyRule.objects.filter(team=team).exists()
    assert not AuditEvent.objects.filter(action__startswith="policy.").exists()


def test_an_admin_creates_a_team_override_and_it_is_audited(admin, team):
    api = api_for(admin)
    PolicyRule.objects.create(team=None, **BANNED)  # a global rule of the kind does not stop a team override
    response = api.post(RULES, {**BANNED, "team": team.slug, "action": "warn"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json() | {"id": 0, "updated": ""} == {
        "id": 0, "team": team.slug, "kind": "banned-packages", "enabled": True, "action": "warn",
        "params": {"packages": [{"name": "telnet"}]}, "note": "", "updated": ""}
    rule = PolicyRule.objects.get(team=team)
    event = AuditEvent.objects.get(action="policy.rule.created")
    assert (event.actor, event.target_id, event.data["params"]) == (admin, str(rule.pk), rule.params)

    response = api.patch(f"{RULES}{rule.pk}/", {"params": {"packages": [{"name": "ftp"}]}}, format="json")
    assert response.status_code == 200 and PolicyRule.objects.get(pk=rule.pk).params == {"packages": [{"name": "ftp"}]}
    changed = AuditEvent.objects.get(action="policy.rule.changed")
    assert changed.data["before"]["params"] == {"packages": [{"name": "telnet"}]}
    assert ruleset_for(team).get("banned-packages").params == {"packages": [{"name": "ftp"}]}

    assert api.delete(f"{RULES}{rule.pk}/").status_code == 204
    assert AuditEvent.objects.filter(action="policy.rule.deleted", target_id=str(rule.pk)).exists()


@pytest.mark.parametrize("body, field", [
    ({"kind": "banned-packages", "params": {"packages": [{"name": "x", "version": "2.0"}]}}, "params"),
    ({"kind": "banned-packages", "params": "telnet"}, "params"),
    ({"kind": "runtime-privileges", "params": {"allowed_capabilities": ["GOD_MODE"]}}, "params"),
    ({"kind": "approved-base", "params": {"bases": ["evil"]}}, "params"),
    ({"kind": "approved-base", "team": "payments", "params": {"bases": ["evil"]}}, "params"),
    ({"kind": "sudo-everything", "params": {}}, "kind"),
    ({"kind": "non-root-user", "action": "ignore"}, "action"),
    ({"kind": "non-root-user"}, "kind"),  # the global non-root-user row exists: change that one
])
def test_it_answers_400_with_field_errors_for_bad_rules(admin, team, body, field):
    response = api_for(admin).post(RULES, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert PolicyRule.objects.count() == 7


def test_a_malformed_entry_error_names_the_entry_and_field(admin):
    response = api_for(admin).post(RULES, {"kind": "banned-packages", "params": {"packages": [
        {"name": "ok"}, {"name": "requests", "ecosystem": "PyPI", "version": "<two"}]}}, format="json")
    assert "packages[1].version" in response.json()["params"]


def test_the_schema_lists_the_policy_endpoints(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    assert {"/api/policy/rules/", "/api/policy/rules/{id}/", "/api/policy/rules/effective/"} <= set(paths)


# -- the admin ---------------------------------------------------------------------------
def admin_form(rule, **changes):
    data = {"team": rule.team_id or "", "kind": rule.kind, "enabled": "on" if rule.enabled else "", "action": rule.action,
            "params": json.dumps(rule.params), "note": rule.note}
    return {k: v for k, v in {**data, **changes}.items() if v != ""}


def test_an_admin_edit_in_the_admin_is_validated_and_audited(client, admin):
    rule = PolicyRule.objects.get(team=None, kind="vulnerability-threshold")
    url = f"/admin/compliance/policyrule/{rule.pk}/change/"
    client.force_login(admin)
    bad = client.post(url, admin_form(rule, params='{"severities": ["Apocalyptic"]}'))
    assert bad.status_code == 200 and "severities" in bad.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="policy.").exists()

    good = client.post(url, admin_form(rule, params='{"severities": ["High", "Critical"], "fixable_only": false}'))
    assert good.status_code == 302, good.content.decode()[:3000]
    rule.refresh_from_db()
    assert rule.params == {"severities": ["Critical", "High"], "fixable_only": False} and rule.updated_by == admin
    event = AuditEvent.objects.get(action="policy.policyrule.changed")
    assert (event.actor, event.target_id, event.data["fields"]) == (admin, str(rule.pk), ["params"])


def test_the_admin_refuses_a_second_global_rule_of_a_kind(client, admin):
    client.force_login(admin)
    response = client.post("/admin/compliance/policyrule/add/", {"kind": "non-root-user", "enabled": "on",
                                                                  "action": "block", "params": "{}"})
    assert response.status_code == 200 and PolicyRule.objects.filter(kind="non-root-user").count() == 1


@pytest.mark.parametrize("who", ["member", "reviewer"])
def test_the_admin_keeps_everyone_else_out_of_policy_rules(client, member, reviewer, who):
    client.force_login({"member": member, "reviewer": reviewer}[who])
    assert client.get("/admin/compliance/policyrule/", follow=True).status_code == 403


# -- the policy page -------------------------------------------------------------------------
def test_the_policy_page_shows_a_team_its_effective_rules(client, member, team, other_team):
    PolicyRule.objects.create(team=team, kind="banned-packages", params={"packages": [{"name": "telnet"}]}, action="warn")
    client.force_login(member)
    page = client.get(reverse("policy")).content.decode()
    assert "Policy for Payments" in page and "No banned packages" in page and "telnet" in page and "this team" in page
    assert ruleset_for(team).version[:12] in page
    assert "Edit rules in the admin" not in page
    assert client.get(reverse("policy") + f"?team={other_team.slug}").status_code == 404


def test_the_policy_page_lets_a_reviewer_see_any_team(client, reviewer, team):
    client.force_login(reviewer)
    assert client.get(reverse("policy") + f"?team={team.slug}").status_code == 200


def test_a_bulk_delete_in_the_admin_is_audited_per_rule(client, admin, team):
    rules = [PolicyRule.objects.create(team=team, kind=kind) for kind in ("non-root-user", "dockerfile-lint")]
    client.force_login(admin)
    response = client.post("/admin/compliance/policyrule/", {"action": "delete_selected", "post": "yes",
                                                             "_selected_action": [r.pk for r in rules]})
    assert response.status_code == 302 and not PolicyRule.objects.filter(team=team).exists()
    assert set(AuditEvent.objects.filter(action="policy.policyrule.deleted").values_list("target_id", flat=True)) == \
        {str(r.pk) for r in rules}


@pytest.mark.parametrize("who, status", [("anonymous", 302), ("member", 200), ("outsider", 404), ("reviewer", 200),
                                         ("admin", 200)])
def test_the_policy_page_per_role(client, member, outsider, reviewer, admin, team, who, status):
    if who != "anonymous":
        client.force_login({"member": member, "outsider": outsider, "reviewer": reviewer, "admin": admin}[who])
    response = client.get(reverse("policy") + f"?team={team.slug}")
    assert response.status_code == status
    assert ("Edit rules in the admin" in response.content.decode()) == (who == "admin")
    assert APIClient().get(f"{RULES}effective/").status_code == 401

"""Every URL of the portal, pages and API, requested by each kind of person, with the status each
must get. The URL list comes from the resolver, so a new view without a row here fails
`test_every_url_has_a_permission_decision`: decide who may use it before it ships.

Roles: anonymous; an outsider (member of another team); a member of the owning team; a security
reviewer; a platform admin (no team). Objects in URLs belong to the member's team. Each request
runs on fresh data, so a write by one role never changes what another sees.
"""
import datetime
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from builds.team_scripts.services import team_script_save
from catalog.models import BaseImage, ProposalState
from compliance.exceptions.services import exception_request
from compliance.models import PolicyRule
from curation.rebuild_plans import rebuild_run, rebuild_subject
from portal.accounts.tokens import token_issue
from portal.models import GlobalRole, Membership
from portal.people.invitations import invitation_create
from portal.robots.services import robot_create
from tests.factories import UserFactory, api_token_for, with_role

ROLES = ["anonymous", "outsider", "member", "reviewer", "admin"]

# Outcomes in ROLES order. Pages send anonymous users to the login page (302); the API answers 401.
# 404 for an object means "not yours to see" (ids do not reveal what exists); 403 means "you may
# see it, not do this". 200/201/302/400/409 for the allowed roles: the request got past the checks
# (400/409: the empty body or the object's state refused it, which is the service's answer).
PAGE_OPEN = (302, 200, 200, 200, 200)
TEAM_PAGE = (302, 404, 200, 200, 200)

MATRIX = {
    # name: {method: (anonymous, outsider, member, reviewer, admin)}
    "login": {"GET": (200, 200, 200, 200, 200)},
    # Probes for orchestrators: nobody logs in. 503: the world's registry key is not one the registry
    # trusts, so the registry check fails (tests/portal/ops/test_health.py has the 200).
    "healthz": {"GET": (200, 200, 200, 200, 200)},
    "readyz": {"GET": (503, 503, 503, 503, 503)},
    # Whoever is on this machine (the test client is 127.0.0.1) or has METRICS_TOKEN, logged in or not.
    "metrics": {"GET": (200, 200, 200, 200, 200)},
    "logout": {"POST": (302, 302, 302, 302, 302)},
    "home": {"GET": PAGE_OPEN},
    "recipe-new": {"GET": PAGE_OPEN, "POST": (302, 400, 400, 400, 400)},
    "recipe-preview": {"POST": (302, 200, 200, 200, 200)},
    "recipe-new-dockerfile": {"GET": PAGE_OPEN, "POST": (302, 200, 200, 200, 200)},
    "recipe-dockerfile-check": {"POST": (302, 200, 200, 200, 200)},
    "recipe-detail": {"GET": TEAM_PAGE},
    "recipe-edit": {"GET": (302, 404, 200, 403, 200)},
    "recipe-build": {"POST": (302, 404, 302, 403, 302)},
    "recipe-build-settings": {"POST": (302, 404, 302, 403, 302)},
    "recipe-promote-script": {"POST": (302, 404, 302, 403, 302)},
    "team-script-list": {"GET": PAGE_OPEN, "POST": (302, 404, 404, 404, 404)},  # no team named: none of theirs
    "team-script-detail": {"GET": TEAM_PAGE, "POST": (302, 404, 302, 403, 302)},
    "build-list": {"GET": PAGE_OPEN},
    "build-detail": {"GET": TEAM_PAGE},
    "build-live": {"GET": (302, 404, 200, 200, 200)},
    "build-log-raw": {"GET": TEAM_PAGE},
    "build-dockerfile": {"GET": TEAM_PAGE},
    "build-publish": {"POST": (302, 404, 302, 302, 302)},
    "build-reevaluate": {"POST": (302, 404, 302, 302, 302)},  # refused with a message when not allowed
    "build-cancel": {"POST": (302, 404, 302, 403, 302)},
    "image-report": {"GET": TEAM_PAGE},
    "image-report-csv": {"GET": TEAM_PAGE},
    "image-report-compare": {"GET": TEAM_PAGE},  # 200 with "nothing to compare" when no report was imported
    "image-report-compare-csv": {"GET": TEAM_PAGE},
    "image-sbom": {"GET": (302, 404, 404, 404, 404)},
    "security-dashboard": {"GET": PAGE_OPEN},
    "fleet-images": {"GET": PAGE_OPEN},
    "vulnerability-impact": {"GET": PAGE_OPEN},
    # Acting on a CVE: each person acts on their own teams' images only (none affected here: back to the CVE page).
    "vulnerability-rebuild": {"GET": PAGE_OPEN, "POST": (302, 302, 302, 302, 302)},
    "vulnerability-exceptions": {"GET": PAGE_OPEN, "POST": (302, 302, 302, 302, 302)},
    "api-vulnerability-rebuilds": {"POST": (401, 200, 200, 200, 200)},
    "api-vulnerability-exceptions": {"POST": (401, 400, 400, 400, 400)},  # the empty body
    "search": {"GET": (302, 302, 302, 302, 302)},  # no query: to the dashboard
    "policy": {"GET": PAGE_OPEN},
    "exception-list": {"GET": PAGE_OPEN},
    "exception-new": {"GET": PAGE_OPEN, "POST": (302, 400, 400, 400, 400)},
    "exception-detail": {"GET": TEAM_PAGE},
    "exception-decision": {"POST": (302, 404, 302, 302, 302)},  # refusals are shown on the page it redirects to
    "robot-list": {"GET": PAGE_OPEN, "POST": (302, 404, 404, 404, 404)},  # no team named: none of theirs
    "robot-rotate": {"POST": (302, 404, 200, 404, 200)},  # 200: the page showing the new secret once
    "robot-revoke": {"POST": (302, 404, 302, 404, 302)},
    "recipe-visibility": {"POST": (302, 404, 302, 302, 302)},
    # Teams: everyone sees the list (their own teams; reviewers and admins all); a team's page is for
    # its members, reviewers and admins. Owners and platform admins change it (the member here is not
    # an owner: 403); only platform admins create teams. The empty form is refused with 400.
    "team-list": {"GET": PAGE_OPEN, "POST": (302, 403, 403, 403, 400)},
    "team-detail": {"GET": TEAM_PAGE},
    "team-alerts": {"POST": (302, 404, 403, 403, 302)},  # empty fields turn the alerts off: allowed
    "team-member-add": {"POST": (302, 404, 403, 403, 400)},
    "team-member-role": {"POST": (302, 404, 403, 403, 400)},
    "team-member-remove": {"POST": (302, 404, 403, 403, 302)},
    "api-team-list": {"GET": (401, 200, 200, 200, 200)},
    "api-team-detail": {"GET": (401, 404, 200, 200, 200)},
    "api-team-alerts": {"PUT": (401, 404, 403, 403, 400)},
    "api-team-members": {"POST": (401, 404, 403, 403, 400)},
    "api-team-member-role": {"PUT": (401, 404, 403, 403, 400)},
    "api-team-member-remove": {"DELETE": (401, 404, 403, 403, 204)},
    # People: platform admins only, whoever else asks (403 says whom to ask).
    "people-list": {"GET": (302, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 400)},
    "person-role": {"POST": (302, 403, 403, 403, 400)},  # no role named
    "person-active": {"POST": (302, 403, 403, 403, 302)},  # deactivates the member  # a reviewer's refusal is shown after the redirect
    "person-password-reset": {"POST": (302, 403, 403, 403, 200)},  # 200: the page showing the one-time password once
    "api-person-list": {"GET": (401, 403, 403, 403, 200), "POST": (401, 403, 403, 403, 400)},
    "api-person-detail": {"GET": (401, 403, 403, 403, 200)},
    "api-person-roles": {"POST": (401, 403, 403, 403, 400)},  # no role named
    "api-person-role-revoke": {"DELETE": (401, 403, 403, 403, 200)},  # the member holds none: nothing to do
    "api-person-deactivate": {"POST": (401, 403, 403, 403, 200)},
    "api-person-reactivate": {"POST": (401, 403, 403, 403, 200)},  # active already: nothing to do
    "api-person-password-reset": {"POST": (401, 403, 403, 403, 200)},
    "invitation-create": {"POST": (302, 403, 403, 403, 400)},  # no e-mail given
    "invitation-resend": {"POST": (302, 403, 403, 403, 302)},
    "invitation-revoke": {"POST": (302, 403, 403, 403, 302)},
    # Public: the link's token is the credential (an empty form: 400, the invitation still usable).
    "invitation-accept": {"GET": (200, 200, 200, 200, 200), "POST": (400, 400, 400, 400, 400)},
    "api-invitation-list": {"GET": (401, 403, 403, 403, 200), "POST": (401, 403, 403, 403, 400)},
    "api-invitation-revoke": {"POST": (401, 403, 403, 403, 200)},
    "api-invitation-resend": {"POST": (401, 403, 403, 403, 200)},
    # The registry's token endpoint: anyone gets a token, which grants only what the credentials may.
    "registry-token": {"GET": (200, 200, 200, 200, 200)},
    "api-robot-list": {"GET": (401, 200, 200, 200, 200), "POST": (401, 400, 400, 400, 400)},
    "api-robot-detail": {"GET": (401, 404, 200, 404, 200)},
    "api-robot-rotate": {"POST": (401, 404, 200, 404, 200)},
    "api-robot-revoke": {"POST": (401, 404, 200, 404, 200)},
    "api-recipe-visibility": {"PUT": (401, 404, 400, 403, 400)},
    "build-propose-base": {"POST": (302, 404, 302, 302, 302)},
    "api-root": {"GET": (401, 200, 200, 200, 200)},
    # The catalog is read by everyone signed in; platform admins add to it (an empty body: 400).
    "api-base-list": {"GET": (401, 200, 200, 200, 200), "POST": (401, 403, 403, 403, 400)},
    "api-base-detail": {"GET": (401, 200, 200, 200, 200)},
    # The world's registry key is not one the registry trusts (see readyz): the re-pin is refused, 400.
    "api-base-repin": {"POST": (401, 403, 403, 403, 400)},
    "api-component-list": {"GET": (401, 200, 200, 200, 200), "POST": (401, 403, 403, 403, 400)},
    "api-component-detail": {"GET": (401, 200, 200, 200, 200)},
    "api-base-proposal-list": {"GET": (401, 200, 200, 200, 200), "POST": (401, 400, 400, 400, 400)},
    "api-base-proposal-detail": {"GET": (401, 200, 200, 200, 200)},
    "api-base-proposal-approve": {"POST": (401, 403, 403, 403, 400)},
    "api-base-proposal-reject": {"POST": (401, 403, 403, 403, 200)},
    "api-dockerfile-recipe-list": {"GET": (401, 200, 200, 200, 200), "POST": (401, 400, 400, 400, 400)},
    "api-dockerfile-recipe-check": {"POST": (401, 400, 400, 400, 400)},
    "api-dockerfile-recipe-detail": {"GET": (401, 404, 404, 404, 404), "PUT": (401, 404, 404, 404, 404)},
    "api-recipe-list": {"GET": (401, 200, 200, 200, 200), "POST": (401, 400, 400, 400, 400)},
    "api-recipe-preview": {"POST": (401, 400, 400, 400, 400)},  # composes whatever the body names; saves nothing
    "api-recipe-detail": {"GET": (401, 404, 200, 200, 200)},
    "api-recipe-build": {"POST": (401, 404, 201, 403, 201)},
    "api-recipe-build-settings": {"PUT": (401, 404, 200, 403, 200)},
    "api-recipe-promote-script": {"POST": (401, 404, 400, 403, 400)},
    "api-recipe-runtime": {"PUT": (401, 404, 400, 403, 400)},
    "api-team-script-list": {"GET": (401, 200, 200, 200, 200), "POST": (401, 400, 400, 400, 400)},
    "api-team-script-detail": {"GET": (401, 404, 200, 200, 200)},
    "api-build-list": {"GET": (401, 200, 200, 200, 200)},
    "api-build-detail": {"GET": (401, 404, 200, 200, 200)},
    "api-build-cancel": {"POST": (401, 404, 200, 403, 200)},
    "api-build-log": {"GET": (401, 404, 200, 200, 200)},
    "api-build-publish": {"POST": (401, 404, 409, 403, 403)},
    "api-build-sbom": {"GET": (401, 404, 404, 404, 404)},
    "api-verdict-trend": {"GET": (401, 200, 200, 200, 200)},
    "api-exception-list": {"GET": (401, 200, 200, 200, 200), "POST": (401, 400, 400, 400, 400)},
    "api-exception-detail": {"GET": (401, 404, 200, 200, 200)},
    "api-exception-approve": {"POST": (401, 404, 403, 200, 200)},
    "api-exception-deny": {"POST": (401, 404, 403, 400, 400)},  # 400: a denial needs a comment
    "api-exception-revoke": {"POST": (401, 404, 403, 400, 400)},
    "api-policy-rule-list": {"GET": (401, 200, 200, 200, 200), "POST": (401, 403, 403, 403, 400)},
    "api-policy-rule-effective": {"GET": (401, 200, 200, 200, 200)},
    "api-policy-rule-detail": {"GET": (401, 200, 200, 200, 200), "PUT": (401, 403, 403, 403, 400),
                               "PATCH": (401, 403, 403, 403, 200), "DELETE": (401, 403, 403, 403, 204)},
    "api-build-report-list": {"GET": (401, 404, 200, 200, 200), "POST": (401, 404, 400, 403, 403)},
    "api-build-report-compare": {"GET": (401, 404, 404, 404, 404)},  # 404 for the allowed too: no report imported
    # The Harbor adapter authenticates Harbor with its own token, not users: no portal role opens it.
    "harbor-metadata": {"GET": (401, 401, 401, 401, 401)},
    "harbor-scan": {"POST": (401, 401, 401, 401, 401)},
    "harbor-scan-report": {"GET": (401, 401, 401, 401, 401)},
    "api-token": {"POST": (400, 400, 400, 400, 400)},
    # API tokens: each user sees and changes only their own (the member owns the token in the URL);
    # platform admins revoke others' in the admin. A new token needs a name (400 for an empty form).
    "account-password": {"GET": PAGE_OPEN, "POST": (302, 400, 400, 400, 400)},  # own password; the empty form is refused
    "account-tokens": {"GET": PAGE_OPEN, "POST": (302, 400, 400, 400, 400)},
    "account-token-rotate": {"POST": (302, 404, 201, 404, 404)},
    "account-token-revoke": {"POST": (302, 404, 302, 404, 404)},
    "api-token-list": {"GET": (401, 200, 200, 200, 200)},
    "api-token-detail": {"GET": (401, 404, 200, 404, 404)},
    # The API is called with another token of the member's: a token rotates only itself (403).
    "api-token-rotate": {"POST": (401, 404, 403, 404, 404)},
    "api-token-revoke": {"POST": (401, 404, 200, 404, 404)},
    "api-schema": {"GET": (200, 200, 200, 200, 200)},
    # Public keys and the verdict schema are for verifiers anywhere (a cluster's admission): no login.
    "well-known-signing-keys": {"GET": (200, 200, 200, 200, 200)},
    "well-known-signing-keys-pem": {"GET": (200, 200, 200, 200, 200)},
    "verdict-schema": {"GET": (200, 200, 200, 200, 200)},
    "signing-keys": {"GET": PAGE_OPEN},
    "api-signing-keys": {"GET": (401, 200, 200, 200, 200)},
    "api-image-verify": {"GET": (401, 400, 400, 400, 400)},  # no ?ref=: what to verify is missing
    # Rebuilds: platform admins only, at every door. An empty form names nothing to rebuild (400);
    # the world's item has a queued build, so its retry is refused (a message, or 400 in the API).
    # Catalog curation pages: platform admins only. An empty lifecycle form names no move (400).
    "catalog-list": {"GET": (302, 403, 403, 403, 200)},
    "catalog-component": {"GET": (302, 403, 403, 403, 200)},
    "catalog-base": {"GET": (302, 403, 403, 403, 200)},
    "catalog-component-new-version": {"GET": (302, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 400)},  # empty form
    "catalog-component-new": {"GET": (302, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 400)},  # empty form
    "catalog-base-new": {"GET": (302, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 400)},  # empty form
    # The confirmation shows the registry's answer (here a refusal: the world's key); the re-pin is refused, 400.
    "catalog-base-repin": {"GET": (302, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 400)},
    "component-version-lifecycle": {"POST": (302, 403, 403, 403, 400)},
    # Proposed bases: the world's proposal has no verdict, so approving it is refused (400); an empty
    # rejection has no reason (400).
    "base-proposal-list": {"GET": (302, 403, 403, 403, 200)},
    "base-proposal-approve": {"GET": (302, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 400)},
    "base-proposal-reject": {"GET": (302, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 400)},
    "api-component-version-lifecycle": {"POST": (401, 403, 403, 403, 400)},
    "base-lifecycle": {"POST": (302, 403, 403, 403, 400)},
    "api-base-lifecycle": {"POST": (401, 403, 403, 403, 400)},
    "rebuild-list": {"GET": (302, 403, 403, 403, 200)},
    "rebuild-new": {"GET": (302, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 400)},
    "rebuild-detail": {"GET": (302, 403, 403, 403, 200)},
    "rebuild-progress": {"GET": (302, 403, 403, 403, 200)},
    "rebuild-item-retry": {"POST": (302, 403, 403, 403, 302)},
    "api-rebuild-list": {"GET": (401, 403, 403, 403, 200), "POST": (401, 403, 403, 403, 400)},
    "api-rebuild-detail": {"GET": (401, 403, 403, 403, 200)},
    "api-rebuild-plan": {"POST": (401, 403, 403, 403, 400)},
    "api-rebuild-item-retry": {"POST": (401, 403, 403, 403, 400)},
}


def url_names() -> dict[str, str]:
    """Every named URL of the portal (the Django admin apart: it has its own permission system,
    checked in tests/curation/test_admin.py) -> its route."""
    found = {}

    def walk(resolver, prefix):
        for entry in resolver.url_patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                if not route.startswith("admin/"):
                    walk(entry, route)
            elif isinstance(entry, URLPattern):
                assert entry.name, f"the URL {route} has no name, so it cannot have a row in the matrix"
                found[entry.name] = route

    walk(get_resolver(), "")
    return found


def test_every_url_has_a_permission_decision():
    missing = sorted(set(url_names()) - set(MATRIX))
    assert not missing, f"no permission decision for {missing}: add each to MATRIX in {__file__}"
    stale = sorted(set(MATRIX) - set(url_names()))
    assert not stale, f"MATRIX names URLs that no longer exist: {stale}"


@pytest.fixture
def world(db, settings, tmp_path, team, other_team, member, outsider, reviewer, recipe, build, busybox, runtime_user):
    settings.HARBOR_ADAPTER_TOKEN = "harbor-only"  # the adapter is on, and answers only Harbor
    key = tmp_path / "registry-key.pem"
    key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    settings.REGISTRY_TOKEN_KEY_FILE = str(key)
    robot, _ = robot_create(user=member, team=team, name="ci")
    admin = with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    script = team_script_save(user=member, team=team, name="maven-settings", kind="build-env", text="#!/bin/sh\necho hi\n").script
    exception = exception_request(user=member, scope="recipe", recipe=recipe, target_kind="vulnerability", target="CVE-2024-0001",
                                  reason="fix_pending", justification="Upstream fix lands next week; internal service.",
                                  expires_at=timezone.now() + datetime.timedelta(days=10), end_when_fixed=False)
    proposal = BaseImage.objects.create(slug="team-base", name="Team base", repository="published/payments/pay-api", tag="1",
                                        digest="sha256:" + "7" * 64, layer_digests=["sha256:" + "2" * 64], os_family="busybox",
                                        approved=False, proposal_state=ProposalState.PENDING, source_build=build)
    rule = PolicyRule.objects.filter(team__isnull=True).first()
    token = token_issue(user=member, name="ci").token
    rebuild = rebuild_run(user=admin, subject=rebuild_subject(base=busybox.slug))
    invitation, invitation_token = invitation_create(user=admin, email="new@example.com", team=team)
    users = {"anonymous": None, "outsider": outsider, "member": member, "reviewer": reviewer, "admin": admin}
    args = {"pk": None, "slug": None, "vulnerability_id": "CVE-2024-0001", "scan_request_id": "1", "build_id": build.pk,
            "kind": GlobalRole.Kind.SECURITY_REVIEWER, "token": invitation_token,
            "membership_id": Membership.objects.get(user=member, team=team).pk}
    objects = {"robot": robot.pk, "recipe": recipe.pk, "team-script": script.pk, "exception": exception.pk, "build": build.pk,
               "image": build.pk, "base-proposal": proposal.slug, "base": busybox.slug, "component": "runtime-user",
               "policy-rule": rule.pk, "dockerfile-recipe": recipe.pk, "token": token.pk, "team": team.slug, "person": member.pk,
               "rebuild": rebuild.pk, "invitation": invitation.pk, "rebuild-item": rebuild.items.get().pk, "component-version": runtime_user.pk}
    return users, args, objects


def _kwargs(name: str, route: str, args: dict, objects: dict) -> dict:
    wanted = set(re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route))
    names = {a or b for a, b in wanted}
    kwargs = {}
    for key in names:
        if key in ("pk", "slug"):
            owner = next((o for o in sorted(objects, key=len, reverse=True) if o in name), None)
            if owner is None and name.startswith(("build-", "api-build-")):
                owner = "build"
            kwargs[key] = objects[owner] if owner else objects["build"]
        else:
            kwargs[key] = args[key]
    return kwargs


CASES = [(name, method) for name, methods in MATRIX.items() for method in methods]


@pytest.mark.parametrize("name, method", CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_each_role_gets_its_status(world, name, method):
    """The five roles in turn, each request rolled back (a savepoint) so that none sees another's writes."""
    users, args, objects = world
    routes = url_names()
    if name not in routes:
        pytest.fail(f"{name} is in MATRIX but not a URL any more")
    url = reverse(name, kwargs=_kwargs(name, routes[name], args, objects) or None)
    wrong = []
    for role, expected in zip(ROLES, MATRIX[name][method]):
        with transaction.atomic():
            status = _request(routes[name], url, method, users[role])
            transaction.set_rollback(True)
        if status != expected:
            wrong.append(f"{role}: {status} (expected {expected})")
    assert not wrong, f"{method} {url}: " + "; ".join(wrong)


def _request(route: str, url: str, method: str, user) -> int:
    if route.startswith("api/") and route not in ("api/token/", "api/schema/"):
        caller = APIClient()
        if user is not None:
            caller.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
        return getattr(caller, method.lower())(url, {}, format="json").status_code
    caller = Client()
    if user is not None:
        caller.force_login(user)
    return getattr(caller, method.lower())(url).status_code

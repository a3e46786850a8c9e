"""Team pages per role: what each sees, forms that show errors and keep what was typed, and the
admin showing memberships without editing them."""
import pytest

from portal.models import AuditEvent, GlobalRole, Membership, Team
from portal.robots.services import robot_create
from tests.factories import UserFactory, member_of, with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(team):
    return member_of(team, "olga", role=Membership.Role.OWNER)


@pytest.fixture
def admin(db):
    return with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)


def _page(client, user, url, **post):
    client.force_login(user)
    response = client.post(url, post) if post else client.get(url)
    return response, response.content.decode()


def test_the_list_shows_ones_own_teams_and_all_of_them_to_reviewers_and_admins(client, team, other_team, member, reviewer, admin):
    _, page = _page(client, member, "/teams/")
    assert "/teams/payments/" in page and "/teams/search/" not in page and "New team" not in page
    for user in (reviewer, admin):
        _, page = _page(client, user, "/teams/")
        assert "/teams/payments/" in page and "/teams/search/" in page
    assert "New team" in page, "platform admins create teams"
    _, page = _page(client, UserFactory(username="loner"), "/teams/")
    assert "You are not in a team yet" in page


def test_a_team_page_shows_members_roles_robots_and_alerts(client, team, owner, member):
    robot_create(user=member, team=team, name="prod")
    team.webhook_url, team.alert_email = "https://hooks.example.com/secret-token", "pay@example.com"
    team.save()
    _, page = _page(client, member, "/teams/payments/")
    assert "olga" in page and "alice" in page and "Owner" in page and "robot+payments+prod" in page
    assert "Manage robot accounts" in page and "pay@example.com" in page
    assert "secret-token" not in page and "Add member" not in page, "plain members neither see the webhook nor manage"
    _, page = _page(client, owner, "/teams/payments/")
    assert "secret-token" in page and "Add member" in page and "Make owner" in page


def test_an_owner_adds_a_member_and_a_typo_is_shown_with_what_was_typed(client, team, owner):
    UserFactory(username="nina")
    refused, page = _page(client, owner, "/teams/payments/members", username="nnia", role="owner")
    assert refused.status_code == 400 and "There is a problem" in page and "No active user is named nnia" in page
    assert 'value="nnia"' in page and '<option value="owner" selected' in page and 'aria-invalid="true"' in page
    added, _ = _page(client, owner, "/teams/payments/members", username="nina", role="member")
    assert added.status_code == 302 and Membership.objects.filter(team=team, user__username="nina", role="member").exists()


def test_the_last_owner_is_refused_with_a_clear_error(client, team, owner):
    mine = Membership.objects.get(user=owner)
    refused, page = _page(client, owner, f"/teams/payments/members/{mine.pk}/remove", x="1")
    assert refused.status_code == 400 and "olga is the last owner of Payments" in page
    refused, page = _page(client, owner, f"/teams/payments/members/{mine.pk}/role", role="member")
    assert refused.status_code == 400 and "last owner" in page
    assert Membership.objects.get(pk=mine.pk).role == "owner"


def test_alert_settings_keep_what_was_typed_when_refused(client, team, owner):
    refused, page = _page(client, owner, "/teams/payments/alerts", webhook_url="hooks.example.com/x", alert_email="pay@")
    assert refused.status_code == 400 and 'href="#field-webhook_url"' in page and 'href="#field-alert_email"' in page
    assert 'value="hooks.example.com/x"' in page and 'value="pay@"' in page
    saved, _ = _page(client, owner, "/teams/payments/alerts", webhook_url="https://hooks.example.com/x", alert_email="pay@example.com")
    team.refresh_from_db()
    assert saved.status_code == 302 and team.webhook_url == "https://hooks.example.com/x"


def test_a_platform_admin_creates_a_team_and_a_bad_slug_is_explained(client, admin):
    refused, page = _page(client, admin, "/teams/", slug="Pay Ments", name="Payments")
    assert refused.status_code == 400 and "team slug" in page and 'value="Pay Ments"' in page and 'value="Payments"' in page
    created, _ = _page(client, admin, "/teams/", slug="orders", name="Orders")
    assert created.status_code == 302 and created["Location"] == "/teams/orders/" and Team.objects.filter(slug="orders").exists()


def test_members_and_reviewers_are_refused_changes(client, team, owner, member, reviewer):
    for user in (member, reviewer):
        response, _ = _page(client, user, "/teams/payments/members", username="olga", role="member")
        assert response.status_code == 403
    assert not AuditEvent.objects.exists()


def test_the_admin_shows_memberships_and_global_roles_read_only(client, team, owner, admin):
    client.force_login(admin)
    page = client.get(f"/admin/portal/team/{team.pk}/change/").content.decode()
    assert "olga" in page and 'name="memberships-0-role"' not in page
    assert client.get("/admin/portal/globalrole/add/").status_code == 403

"""Team services: who may do what (owner, member, outsider, reviewer, platform admin), the
last-owner rule, validation and the audit log."""
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from portal.models import AuditEvent, GlobalRole, Membership, Team
from portal.teams.services import membership_add, membership_remove, membership_role_change, team_alerts_update, team_create
from tests.factories import UserFactory, member_of, with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(team):
    return member_of(team, "olga", role=Membership.Role.OWNER)


@pytest.fixture
def admin(db):
    return with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)


@pytest.fixture
def newcomer(db):
    return UserFactory(username="nina")


def _membership(user, team):
    return Membership.objects.get(user=user, team=team)


def test_owners_and_platform_admins_add_members_and_it_is_audited(team, owner, admin, newcomer):
    added = membership_add(user=owner, team=team, username="nina")
    assert added.role == "member" and added.user == newcomer
    event = AuditEvent.objects.get(action="team.member_added")
    assert event.actor == owner and event.team == team and event.data == {"username": "nina", "role": "member"}
    other = UserFactory(username="omar")
    assert membership_add(user=admin, team=team, username="omar", role="owner").role == "owner"
    assert _membership(other, team).role == "owner"


@pytest.mark.parametrize("who", ["member", "outsider", "reviewer"])
def test_members_outsiders_and_reviewers_manage_nothing(request, team, owner, newcomer, who):
    user = request.getfixturevalue(who)
    target, before = _membership(owner, team), team.memberships.count()
    for attempt in (lambda: membership_add(user=user, team=team, username="nina"),
                    lambda: membership_role_change(user=user, membership=target, role="member"),
                    lambda: membership_remove(user=user, membership=target),
                    lambda: team_alerts_update(user=user, team=team, webhook_url="https://x.example/h", alert_email=""),
                    lambda: team_create(user=user, slug="new-team", name="New")):
        with pytest.raises(PermissionDenied):
            attempt()
    assert not AuditEvent.objects.filter(action__startswith="team.").exists()
    assert _membership(owner, team).role == "owner" and team.memberships.count() == before


@pytest.mark.parametrize("username, message", [("", "Enter the user name"), ("ghost", "No active user is named ghost"),
                                               ("alice", "already in team")])
def test_adding_needs_an_existing_user_not_yet_in_the_team(team, owner, member, username, message):
    with pytest.raises(ValidationError) as error:
        membership_add(user=owner, team=team, username=username)
    assert message in error.value.message_dict["username"][0]


def test_a_deactivated_user_cannot_be_added_and_a_bad_role_is_refused(team, owner, newcomer):
    with pytest.raises(ValidationError) as error:
        membership_add(user=owner, team=team, username="nina", role="boss")
    assert "role" in error.value.message_dict
    newcomer.is_active = False
    newcomer.save()
    with pytest.raises(ValidationError):
        membership_add(user=owner, team=team, username="nina")


def test_the_last_owner_can_be_neither_demoted_nor_removed(team, owner, admin, member):
    mine = _membership(owner, team)
    with pytest.raises(ValidationError) as error:
        membership_role_change(user=admin, membership=mine, role="member")
    assert "last owner" in error.value.message_dict["role"][0]
    with pytest.raises(ValidationError) as error:
        membership_remove(user=owner, membership=mine)
    assert "last owner" in error.value.message_dict["member"][0]
    assert _membership(owner, team).role == "owner"
    # With a second owner, the first may step down, then leave.
    membership_role_change(user=owner, membership=_membership(member, team), role="owner")
    membership_role_change(user=owner, membership=mine, role="member")
    membership_remove(user=admin, membership=_membership(owner, team))
    assert not Membership.objects.filter(user=owner).exists()
    assert list(AuditEvent.objects.filter(team=team).order_by("created").values_list("action", "data__role")) == [
        ("team.member_role_changed", "owner"), ("team.member_role_changed", "member"), ("team.member_removed", "member")]


def test_a_member_of_a_team_without_owners_can_be_removed(team, admin, member):
    membership_remove(user=admin, membership=_membership(member, team))
    assert not team.memberships.exists()


def test_alert_settings_are_validated_and_audited(team, owner):
    with pytest.raises(ValidationError) as error:
        team_alerts_update(user=owner, team=team, webhook_url="ftp://files.example.com/x", alert_email="not-an-address")
    assert set(error.value.message_dict) == {"webhook_url", "alert_email"}
    team.refresh_from_db()
    assert team.webhook_url == "" and team.alert_email == ""
    team_alerts_update(user=owner, team=team, webhook_url=" https://chat.example.com/hooks/pay ", alert_email="pay@example.com")
    team.refresh_from_db()
    assert (team.webhook_url, team.alert_email) == ("https://chat.example.com/hooks/pay", "pay@example.com")
    assert AuditEvent.objects.get(action="team.alerts_changed").data == {"fields": ["alert_email", "webhook_url"]}
    team_alerts_update(user=owner, team=team, webhook_url="https://chat.example.com/hooks/pay", alert_email="pay@example.com")
    assert AuditEvent.objects.filter(action="team.alerts_changed").count() == 1, "no change, no record"


def test_platform_admins_create_teams_whose_slug_follows_the_registry_name_rule(admin, team):
    created = team_create(user=admin, slug="orders", name="Orders")
    assert Team.objects.get(slug="orders") == created
    assert AuditEvent.objects.filter(action="team.created", target_id=str(created.pk), actor=admin).exists()
    for slug in ("Orders", "a/b", "-x", "", "payments"):
        with pytest.raises(ValidationError) as error:
            team_create(user=admin, slug=slug, name="X")
        assert "slug" in error.value.message_dict, slug
    with pytest.raises(ValidationError) as error:
        team_create(user=admin, slug="fine", name=" ")
    assert "name" in error.value.message_dict


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/metrics", "http://localhost:5000/v2/", "http://[::1]/hook",
                                 "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0:3142/",
                                 "http://[::ffff:127.0.0.1]/x", "https://api.localhost/hook"])
def test_an_alert_webhook_may_not_point_at_this_host_or_a_link_local_address(team, owner, url):
    with pytest.raises(ValidationError) as error:
        team_alerts_update(user=owner, team=team, webhook_url=url, alert_email="")
    assert "alerts go to a receiver elsewhere on the network" in error.value.message_dict["webhook_url"][0]
    team.refresh_from_db()
    assert team.webhook_url == ""


def test_an_alert_webhook_on_a_private_network_is_accepted(team, owner):
    team_alerts_update(user=owner, team=team, webhook_url="http://10.20.30.40/hooks/pay", alert_email="")
    team.refresh_from_db()
    assert team.webhook_url == "http://10.20.30.40/hooks/pay"

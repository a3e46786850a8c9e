"""Invitations by e-mail: platform admins invite (page and API, one service), the invitee's link works
once, until it expires, and not after a revocation or a resend; every refusal saves nothing."""
import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from portal.accounts.models import PasswordChangeRequired
from portal.models import AuditEvent, GlobalRole, Invitation, Membership
from portal.people import invitations
from tests.builds.test_api import api_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()
INVALID = "This invitation is no longer valid; ask a platform admin for a new one."
GOOD = {"username": "newbie", "password": "a long enough passphrase", "password_again": "a long enough passphrase"}


def link_in(message) -> str:
    return re.search(r"http://\S+/invitations/(\S+)", message.body).group(1)


def invite(admin, email="new@example.com", **kwargs):
    return invitations.invitation_create(user=admin, email=email, **kwargs)


# The service

def test_an_invitation_mails_a_link_and_stores_only_a_hash(admin, team, settings):
    settings.PORTAL_BASE_URL = "https://portal.example.com"
    invitation, token = invite(admin, team=team, role="owner")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@example.com"]
    assert f"https://portal.example.com/invitations/{token}" in mail.outbox[0].body
    assert token not in invitation.token_sha256 and len(invitation.token_sha256) == 64
    assert invitation.state == "pending" and invitation.role == "owner"
    assert datetime.timedelta(days=2, hours=23) < invitation.expires_at - timezone.now() <= datetime.timedelta(days=3)
    event = AuditEvent.objects.get(action="user.invited")
    assert event.actor == admin and event.data["email"] == "new@example.com" and event.data["mail"] == "sent"
    assert token not in str(event.data)


@pytest.mark.parametrize("who", ["member", "reviewer"])
def test_only_platform_admins_invite(request, who):
    with pytest.raises(PermissionDenied):
        invite(request.getfixturevalue(who))
    assert not Invitation.objects.exists() and not mail.outbox


@pytest.mark.parametrize("email, message", [
    ("not-an-address", "Enter an e-mail address"),
    ("", "Enter an e-mail address"),
    ("ALICE@example.com", "A user with the e-mail ALICE@example.com exists already"),
])
def test_bad_or_taken_addresses_are_refused(admin, member, email, message):
    member.email = "alice@example.com"
    member.save()
    with pytest.raises(ValidationError) as refused:
        invite(admin, email=email)
    assert message in refused.value.message_dict["email"][0]
    assert not Invitation.objects.exists() and not mail.outbox


def test_a_second_pending_invitation_for_an_address_is_refused_until_the_first_expires(admin):
    first, _ = invite(admin)
    with pytest.raises(ValidationError) as refused:
        invite(admin, email="NEW@example.com")
    assert "has a pending invitation already" in refused.value.message_dict["email"][0]
    Invitation.objects.filter(pk=first.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    invite(admin)
    first.refresh_from_db()
    assert first.state == "expired" and Invitation.objects.filter(state="pending").count() == 1


def test_a_role_without_a_team_is_refused(admin):
    with pytest.raises(ValidationError) as refused:
        invite(admin, role="owner")
    assert "Choose a team" in refused.value.message_dict["role"][0]


def test_accepting_creates_the_user_with_their_password_and_the_membership(admin, team):
    invitation, token = invite(admin, team=team, role="owner")
    person = invitations.invitation_accept(token=token, **GOOD)
    assert person.username == "newbie" and person.email == "new@example.com" and person.check_password(GOOD["password"])
    assert not PasswordChangeRequired.objects.filter(user=person).exists()  # they chose it: no one-time password
    assert Membership.objects.get(user=person).team == team and Membership.objects.get(user=person).role == "owner"
    invitation.refresh_from_db()
    assert invitation.state == "accepted" and invitation.accepted_user == person
    assert AuditEvent.objects.get(action="user.invitation_accepted").actor == person
    assert AuditEvent.objects.get(action="team.member_added").data["role"] == "owner"
    with pytest.raises(invitations.InvitationInvalid):  # never twice
        invitations.invitation_accept(token=token, **GOOD | {"username": "second"})
    assert not User.objects.filter(username="second").exists()


def test_bad_input_at_acceptance_leaves_the_invitation_usable(admin, member):
    _, token = invite(admin)
    for given, field in [({"password": "short", "password_again": "short"}, "password"),
                         ({"password_again": "something else entirely"}, "password_again"),
                         ({"username": "alice"}, "username"), ({"username": "bad name!"}, "username")]:
        with pytest.raises(ValidationError) as refused:
            invitations.invitation_accept(token=token, **GOOD | given)
        assert field in refused.value.message_dict
    assert User.objects.count() == 2  # admin and alice
    assert invitations.invitation_accept(token=token, **GOOD).username == "newbie"


@pytest.mark.parametrize("spoil", ["expired", "revoked", "tampered", "inviter-demoted"])
def test_unusable_tokens_create_nothing(admin, spoil):
    invitation, token = invite(admin)
    if spoil == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    elif spoil == "revoked":
        invitations.invitation_revoke(user=admin, invitation=invitation)
    elif spoil == "tampered":
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    else:
        GlobalRole.objects.filter(user=admin).delete()
    with pytest.raises(invitations.InvitationInvalid):
        invitations.invitation_accept(token=token, **GOOD)
    assert not User.objects.filter(username="newbie").exists()


def test_resend_kills_the_old_token(admin):
    invitation, old = invite(admin)
    _, new = invitations.invitation_resend(user=admin, invitation=invitation)
    assert new != old and len(mail.outbox) == 2 and link_in(mail.outbox[1]) == new
    with pytest.raises(invitations.InvitationInvalid):
        invitations.invitation_accept(token=old, **GOOD)
    assert invitations.invitation_accept(token=new, **GOOD).username == "newbie"
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="user.invit").order_by("created")] == [
        "user.invited", "user.invitation_resent", "user.invitation_accepted"]


def test_revoke_and_resend_are_for_platform_admins_and_pending_invitations(admin, member):
    invitation, _ = invite(admin)
    for change in (invitations.invitation_revoke, invitations.invitation_resend):
        with pytest.raises(PermissionDenied):
            change(user=member, invitation=invitation)
    invitations.invitation_revoke(user=admin, invitation=invitation)
    assert AuditEvent.objects.filter(action="user.invitation_revoked", actor=admin).exists()
    with pytest.raises(ValidationError):
        invitations.invitation_resend(user=admin, invitation=invitation)


# The pages

def test_people_page_invites_lists_resends_and_revokes(client, admin, team):
    client.force_login(admin)
    sent = client.post("/people/invitations", {"invite_email": "new@example.com", "invite_team": "payments", "invite_role": "member"})
    assert sent.status_code == 302 and len(mail.outbox) == 1
    invitation = Invitation.objects.get()
    page = client.get("/people/").content.decode()
    assert "new@example.com" in page and f"/people/invitations/{invitation.pk}/revoke" in page
    assert client.post(f"/people/invitations/{invitation.pk}/resend").status_code == 302 and len(mail.outbox) == 2
    assert client.post(f"/people/invitations/{invitation.pk}/revoke").status_code == 302
    assert f'id="invitation-{invitation.pk}"' not in client.get("/people/").content.decode()
    refused = client.post(f"/people/invitations/{invitation.pk}/revoke")
    assert refused.status_code == 400 and "revoked already" in refused.content.decode()


def test_invitation_form_errors_are_summarised_and_keep_values(client, admin, team):
    client.force_login(admin)
    refused = client.post("/people/invitations", {"invite_email": "nope", "invite_team": "payments", "invite_role": "owner"})
    page = refused.content.decode()
    assert refused.status_code == 400 and "There is a problem" in page and 'href="#field-invite_email"' in page
    assert 'value="nope"' in page and '<option value="payments" selected>' in page and '<option value="owner" selected>' in page
    unknown = client.post("/people/invitations", {"invite_email": "a@example.com", "invite_team": "nosuch"})
    assert unknown.status_code == 400 and 'href="#field-invite_team"' in unknown.content.decode()
    assert not Invitation.objects.exists()


def test_non_admins_get_403_on_the_invitation_pages(client, admin, member, reviewer):
    invitation, _ = invite(admin)
    for user in (member, reviewer):
        client.force_login(user)
        assert client.post("/people/invitations", {"invite_email": "x@example.com"}).status_code == 403
        assert client.post(f"/people/invitations/{invitation.pk}/revoke").status_code == 403
        assert client.post(f"/people/invitations/{invitation.pk}/resend").status_code == 403
    invitation.refresh_from_db()
    assert invitation.state == "pending" and Invitation.objects.count() == 1 and len(mail.outbox) == 1


def test_the_invitee_accepts_without_an_account_and_is_logged_in(client, admin, team):
    _, token = invite(admin, team=team)
    page = client.get(f"/invitations/{token}")
    assert page.status_code == 200 and "new@example.com" in page.content.decode() and page["Referrer-Policy"] == "same-origin"
    weak = client.post(f"/invitations/{token}", GOOD | {"password": "short", "password_again": "short"})
    body = weak.content.decode()
    assert weak.status_code == 400 and "There is a problem" in body and 'value="newbie"' in body
    assert 'name="password" type="password" autocomplete="new-password" required aria-invalid' in body and 'value="short"' not in body
    accepted = client.post(f"/invitations/{token}", GOOD)
    assert accepted.status_code == 302 and accepted["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200 and "newbie" in home.content.decode() and "Welcome, newbie" in home.content.decode()
    client.logout()
    gone = client.get(f"/invitations/{token}")
    assert gone.status_code == 404 and INVALID in gone.content.decode()
    assert client.post(f"/invitations/{token}", GOOD | {"username": "again"}).status_code == 404
    assert not User.objects.filter(username="again").exists()


@pytest.mark.parametrize("spoil", ["unknown", "expired", "revoked", "used"])
def test_every_unusable_link_gets_the_same_404_page(client, admin, spoil):
    invitation, token = invite(admin)
    if spoil == "unknown":
        token = "x" * 43
    elif spoil == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    elif spoil == "revoked":
        invitations.invitation_revoke(user=admin, invitation=invitation)
    else:
        invitations.invitation_accept(token=token, **GOOD | {"username": "first"})
    for answer in (client.get(f"/invitations/{token}"), client.post(f"/invitations/{token}", GOOD)):
        assert answer.status_code == 404 and INVALID in answer.content.decode()
        assert "new@example.com" not in answer.content.decode()
    assert not User.objects.filter(username="newbie").exists()


def test_a_user_holding_a_one_time_password_can_still_open_a_link(client, admin):
    _, token = invite(admin)
    other = UserFactory(username="otp")
    PasswordChangeRequired.objects.create(user=other, reason="created")
    client.force_login(other)
    assert client.get(f"/invitations/{token}").status_code == 200


# The API

def test_the_api_invites_lists_and_revokes(admin, team):
    api = api_for(admin)
    created = api.post("/api/people/invitations/", {"email": "new@example.com", "team": "payments", "role": "owner"}, format="json")
    assert created.status_code == 201 and created.json()["team"] == "payments" and created.json()["role"] == "owner"
    assert "token" not in str(created.json()) and len(mail.outbox) == 1
    again = api.post("/api/people/invitations/", {"email": "new@example.com"}, format="json")
    assert again.status_code == 400 and "pending invitation" in str(again.json())
    listed = api.get("/api/people/invitations/").json()["results"]
    assert [i["email"] for i in listed] == ["new@example.com"]
    pk = created.json()["id"]
    assert api.post(f"/api/people/invitations/{pk}/resend/").status_code == 200 and len(mail.outbox) == 2
    revoked = api.post(f"/api/people/invitations/{pk}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert api.get("/api/people/invitations/").json()["results"] == []
    assert api.post(f"/api/people/invitations/{pk}/revoke/").status_code == 404  # no longer pending


def test_the_api_refuses_non_admins_and_bad_addresses(admin, member, reviewer):
    invitation, _ = invite(admin)
    for user in (member, reviewer):
        api = api_for(user)
        assert api.get("/api/people/invitations/").status_code == 403
        assert api.post("/api/people/invitations/", {"email": "x@example.com"}, format="json").status_code == 403
        assert api.post(f"/api/people/invitations/{invitation.pk}/revoke/").status_code == 403
    bad = api_for(admin).post("/api/people/invitations/", {"email": "nope"}, format="json")
    assert bad.status_code == 400 and "email" in str(bad.json())
    assert Invitation.objects.count() == 1 and Invitation.objects.get().state == "pending"

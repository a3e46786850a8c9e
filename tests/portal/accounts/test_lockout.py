"""Password guessing is locked out on both doors that take a password (the login page and
POST /api/token/), per user name and per client address, until the window passes or a platform
admin unlocks; the right password does not get through a lockout."""
import datetime

import pytest
from axes.models import AccessAttempt
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from portal.accounts.lockout import client_ip, lockout_clear
from portal.accounts.models import ApiToken
from portal.models import AuditEvent, GlobalRole
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db
RIGHT, WRONG = "pw-for-tests-1", "not-the-password"


def login(client, username, password, **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


def token_request(username, password, address="127.0.0.1"):
    return APIClient().post("/api/token/", {"username": username, "password": password}, format="json", REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_it_refuses_the_right_password_on_the_login_page_after_30_wrong_ones(member):
    client = Client()
    answers = [login(client, "alice", WRONG) for _ in range(30)]
    assert [a.status_code for a in answers[:4]] == [200] * 4, "the first failures only say the password did not match"
    assert all(a.status_code == 429 for a in answers[4:]), "locked from the 5th failure on"

    response = login(client, "alice", RIGHT)

    assert response.status_code == 429
    assert not signed_in(client)
    page = response.content.decode()
    assert "Log-in locked" in page and "locked until" in page and "platform admin" in page
    assert int(response["Retry-After"]) > 0
    assert AccessAttempt.objects.get(username="alice").failures_since_start == 5, "tries while locked do not extend the lockout"


def test_it_refuses_the_right_password_for_a_token_after_30_wrong_ones(member):
    answers = [token_request("alice", WRONG) for _ in range(30)]
    assert answers[0].status_code == 400 and answers[0].json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert all(a.status_code == 429 for a in answers[4:])

    response = token_request("alice", RIGHT)

    assert response.status_code == 429
    body = response.json()
    assert "locked until" in body["detail"] and body["locked_until"] and body["retry_after_seconds"] > 0
    assert response["Retry-After"] == str(body["retry_after_seconds"])
    assert not ApiToken.objects.exists(), "no token for a locked account"


def test_failures_on_one_door_lock_the_other(member):
    for _ in range(5):
        login(Client(), "alice", WRONG)
    assert token_request("alice", RIGHT).status_code == 429


def test_it_locks_an_address_that_guesses_many_user_names(member, outsider):
    for n in range(20):  # LOGIN_FAILURE_LIMIT_PER_IP, each name well under its own limit
        token_request(f"guess{n % 10}", WRONG, address="203.0.113.9")
    assert token_request("alice", RIGHT, address="203.0.113.9").status_code == 429
    assert token_request("mallory", RIGHT, address="198.51.100.4").status_code == 200, "other addresses are not locked"


def test_a_success_resets_its_user_names_failures(member):
    client = Client()
    for _ in range(4):
        login(client, "alice", WRONG)
    assert login(client, "alice", RIGHT).status_code == 302
    for _ in range(4):
        login(Client(), "alice", WRONG)
    assert login(Client(), "alice", RIGHT).status_code == 302, "4 + 4 failures with a success between: not locked"


def test_someone_elses_success_from_the_same_address_does_not_reset_the_count(member, outsider):
    # An attacker's own account must not wipe the address's count of guesses at other names.
    for n in range(19):
        token_request(f"guess{n}", WRONG)
    assert token_request("mallory", RIGHT).status_code == 200
    token_request("guess-last", WRONG)
    assert token_request("alice", RIGHT).status_code == 429


def test_the_lockout_ends_when_the_window_has_passed(member, settings):
    for _ in range(5):
        login(Client(), "alice", WRONG)
    assert login(Client(), "alice", RIGHT).status_code == 429
    # Age the failures past the window rather than wait.
    AccessAttempt.objects.update(attempt_time=datetime.datetime.now(datetime.UTC) - settings.AXES_COOLOFF_TIME
                                 - datetime.timedelta(seconds=1))
    assert login(Client(), "alice", RIGHT).status_code == 302


def test_a_client_cannot_dodge_the_address_lockout_with_a_forwarded_header(member):
    # No proxy is configured (PORTAL_PROXY_COUNT=0): X-Forwarded-For is the client's own text.
    for n in range(20):
        APIClient().post("/api/token/", {"username": f"guess{n}", "password": WRONG}, format="json",
                         HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    assert token_request("alice", RIGHT).status_code == 429


def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw(rf, settings):
    settings.PORTAL_PROXY_COUNT = 1
    request = rf.get("/", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert client_ip(request) == "203.0.113.7", "the entry the proxy appended, not what the client sent before it"
    assert client_ip(rf.get("/", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="not-an-address")) == "10.1.1.1"
    assert client_ip(rf.get("/", REMOTE_ADDR="10.1.1.1")) == "10.1.1.1", "a request that skipped the proxy"
    settings.PORTAL_PROXY_COUNT = 0
    assert client_ip(request) == "10.1.1.1"


@pytest.fixture
def platform_admin(db):
    return with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)


def lock_alice():
    for _ in range(5):
        login(Client(), "alice", WRONG, REMOTE_ADDR="198.51.100.20")
    assert login(Client(), "alice", RIGHT).status_code == 429


def test_a_platform_admin_unlocks_a_user_name_in_the_admin(member, platform_admin):
    lock_alice()
    admin = Client()
    admin.force_login(platform_admin)
    changelist = "/admin/axes/accessattempt/"
    assert admin.get(changelist).status_code == 200
    row = AccessAttempt.objects.get(username="alice")
    response = admin.post(changelist, {"action": "unlock_usernames", "_selected_action": [row.pk]})
    assert response.status_code == 302

    assert login(Client(), "alice", RIGHT).status_code == 302
    event = AuditEvent.objects.get(action="account.lockout.cleared")
    assert (event.actor, event.target_type, event.target_id) == (platform_admin, "LoginLockout", "alice")


def test_it_keeps_members_out_of_the_lockout_admin_and_service(member, reviewer):
    lock_alice()
    client = Client()
    client.force_login(reviewer)
    assert client.get("/admin/axes/accessattempt/", follow=True).status_code == 403
    with pytest.raises(PermissionDenied):
        lockout_clear(actor=member, username="alice")
    assert login(Client(), "alice", RIGHT).status_code == 429


def test_the_operator_unlocks_from_the_command_line(member, capsys):
    lock_alice()
    call_command("account_unlock", "--username", "alice")
    assert "Unlocked user name alice" in capsys.readouterr().out
    assert login(Client(), "alice", RIGHT).status_code == 302
    assert AuditEvent.objects.get(action="account.lockout.cleared").actor is None


def test_the_command_unlocks_an_address(member):
    for n in range(20):
        token_request(f"guess{n}", WRONG, address="203.0.113.50")
    assert token_request("alice", RIGHT, address="203.0.113.50").status_code == 429
    call_command("account_unlock", "--ip", "203.0.113.50")
    assert token_request("alice", RIGHT, address="203.0.113.50").status_code == 200


def test_the_command_needs_something_to_unlock():
    with pytest.raises(Exception, match="Name a user name or a client address"):
        call_command("account_unlock")

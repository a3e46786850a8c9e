"""Users replace the password a platform admin gave them with their own."""
import pytest

from portal.models import AuditEvent, GlobalRole
from portal.people.services import user_create
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db


def test_a_new_user_replaces_the_password_they_were_given(client):
    admin = with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    person, given = user_create(actor=admin, username="jdoe", email="jdoe@example.com")
    client.force_login(person)
    refused = client.post("/account/password/", {"old_password": "wrong", "new_password1": "short", "new_password2": "other"})
    page = refused.content.decode()
    assert refused.status_code == 400 and "There is a problem" in page and 'href="#id_old_password"' in page
    changed = client.post("/account/password/", {"old_password": given, "new_password1": "a-long-passphrase-of-mine",
                                                 "new_password2": "a-long-passphrase-of-mine"})
    assert changed.status_code == 302
    person.refresh_from_db()
    assert person.check_password("a-long-passphrase-of-mine") and not person.check_password(given)
    assert AuditEvent.objects.filter(action="user.password_changed", actor=person).exists()

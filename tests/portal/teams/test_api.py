"""The teams API keeps the pages' rules: owners and platform admins change a team, the last owner stays."""
import pytest

from portal.models import AuditEvent, Membership
from tests.builds.test_api import api_for
from tests.factories import UserFactory, member_of

pytestmark = pytest.mark.django_db


def test_an_owner_manages_members_and_alerts_through_the_api(team, member):
    owner = member_of(team, "olga", role=Membership.Role.OWNER)
    UserFactory(username="nina")
    api = api_for(owner)
    listed = api.get("/api/teams/payments/").json()
    assert {m["username"]: m["role"] for m in listed["members"]} == {"olga": "owner", "alice": "member"}
    added = api.post("/api/teams/payments/members/", {"username": "nina"}, format="json")
    assert added.status_code == 201 and added.json()["role"] == "member"
    nina = added.json()["id"]
    assert api.put(f"/api/teams/payments/members/{nina}/role/", {"role": "owner"}, format="json").json()["role"] == "owner"
    mine = Membership.objects.get(user=owner).pk
    assert api.delete(f"/api/teams/payments/members/{mine}/").status_code == 204
    last = api_for(Membership.objects.get(pk=nina).user).delete(f"/api/teams/payments/members/{nina}/")
    assert last.status_code == 400 and "last owner" in last.json()["member"][0]
    refused = api.put("/api/teams/payments/alerts/", {"webhook_url": "ftp://x", "alert_email": ""}, format="json")
    assert refused.status_code == 404, "olga left the team: it is not hers to see any more"
    assert AuditEvent.objects.filter(action="team.member_added").exists()


def test_alerts_are_validated_and_members_are_refused(team, member):
    owner = member_of(team, "olga", role=Membership.Role.OWNER)
    refused = api_for(owner).put("/api/teams/payments/alerts/", {"webhook_url": "ftp://x.example", "alert_email": "x@"}, format="json")
    assert refused.status_code == 400 and set(refused.json()) == {"webhook_url", "alert_email"}
    assert api_for(member).post("/api/teams/payments/members/", {"username": "olga"}, format="json").status_code == 403

"""The home page by role: members their images, reviewers their queue, platform admins the catalog
and people; a user with neither is told whom to ask. The navigation counts pending exceptions."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from builds.models import Build
from compliance.models import Verdict
from portal.models import GlobalRole, Membership
from tests.compliance.fleet import fleet_grow
from tests.factories import UserFactory, member_of, with_role

pytestmark = pytest.mark.django_db


def _home(client, user):
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def fleet(team, other_team, member, reviewer):
    """image-0: published, failing (exception approved); image-1: not published, failing (exception pending)."""
    return fleet_grow(teams=[team, other_team], images=2, findings_per_image=1, requester=member, reviewer=reviewer)


def test_a_reviewer_in_no_team_sees_the_queue(client, reviewer, fleet):
    page = _home(client, reviewer)
    assert "<h1>Review queue</h1>" in page and "You are not in a team yet" not in page
    assert '1 exception</strong> waiting for a decision' in page and 'href="/exceptions?status=pending"' in page
    published, unpublished = fleet
    assert f'href="/builds/{published.pk}/report">image-0' in page, "published and failing: newly blocked"
    assert "image-1" not in page, "never published: not blocked by the portal after the fact"
    assert 'id="nav-pending-exceptions">1 pending' in page


def test_a_published_image_that_passes_again_leaves_the_queue(client, reviewer, fleet):
    Verdict.objects.create(build=fleet[0], passed=True, database_version=2)
    page = _home(client, reviewer)
    assert "image-0" not in page and "No published image is blocked" in page


def test_a_member_keeps_my_images_without_the_queue_or_the_count(client, member, fleet):
    page = _home(client, member)
    assert "<h1>My images</h1>" in page and "image-0" in page and "To review" not in page
    assert "nav-pending-exceptions" not in page


def test_a_member_who_also_reviews_sees_both(client, member, fleet):
    with_role(member, GlobalRole.Kind.SECURITY_REVIEWER)
    page = _home(client, member)
    assert "<h1>My images</h1>" in page and "To review" in page


def test_a_platform_admin_sees_the_catalog_and_people_with_counts(client, team, member, busybox):
    member_of(team, "olga", role=Membership.Role.OWNER)
    admin = with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    page = _home(client, admin)
    assert "<h1>Platform overview</h1>" in page and "1 base image in use" in page
    assert "1 team</a>" in page and "without an owner" not in page and "3 active users" in page
    assert 'href="/people/"' in page and 'href="/teams/#new-team"' in page and "To review" in page


def test_someone_with_no_team_and_no_role_is_told_whom_to_ask(client):
    page = _home(client, UserFactory(username="newbie"))
    assert "You are not in a team yet" in page and "Ask a team's owner" in page and 'href="/teams/"' in page


def test_the_navigation_count_costs_one_query_and_none_for_htmx_fragments(client, reviewer, member, fleet):
    client.force_login(reviewer)
    with CaptureQueriesContext(connection) as captured:
        client.get("/teams/")
    counted = [q["sql"] for q in captured if "compliance_policyexception" in q["sql"]]
    assert len(counted) == 1, counted
    build = Build.objects.filter(recipe__team__memberships__user=member).first()
    with CaptureQueriesContext(connection) as captured:
        client.get(f"/builds/{build.pk}/live?after=0", HTTP_HX_REQUEST="true")
    assert not [q for q in captured if "compliance_policyexception" in q["sql"]]

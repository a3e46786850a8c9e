"""The security overview says when its figures may be behind: an import or a policy change whose
re-evaluation is still owed (running, or left by a process that died) is named above the tiles,
and only changes of teams the reader may see."""
import pytest
from django.urls import reverse

from compliance.models import ImportRun, PolicyReevaluationDue, ReevaluationDue

pytestmark = pytest.mark.django_db


def notice(client, user) -> str:
    client.force_login(user)
    page = client.get(reverse("security-dashboard")).content.decode()
    if 'id="reevaluation-owed"' not in page:
        return ""
    return page.split('id="reevaluation-owed"', 1)[1].split("</div>", 1)[0]


def test_the_overview_names_the_imports_and_changes_still_being_re_evaluated(client, reviewer, member, team, other_team):
    assert notice(client, reviewer) == "", "nothing owed: no notice"
    runs = [ImportRun.objects.create(source="osv", origin="/data", status=ImportRun.Status.DONE) for _ in range(2)]
    for run in runs:
        ReevaluationDue.objects.create(import_run=run, pairs=[["Debian:12", "openssl"]], advisories=[1])
    PolicyReevaluationDue.objects.create(team=other_team, trigger="policy-change")

    said = notice(client, reviewer)
    assert f"import #{runs[0].pk}, import #{runs[1].pk} and a policy change" in said
    assert "may not show the changes yet" in said
    assert "a policy change" not in notice(client, member), "another team's rule change is not told to this team"
    assert f"import #{runs[1].pk}" in notice(client, member), "an import concerns every team"

    ReevaluationDue.objects.all().delete()
    PolicyReevaluationDue.objects.create(team=None, trigger="base-change")
    said = notice(client, member)
    assert "import #" not in said and "a change of the approved bases" in said, "the page follows the rows, cached or not"

    PolicyReevaluationDue.objects.all().delete()
    assert notice(client, member) == "" and notice(client, reviewer) == ""

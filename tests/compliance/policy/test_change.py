"""A changed policy rule re-evaluates the images it concerns, not just the next publication."""
import pytest

from compliance.models import PolicyReevaluationDue, PolicyRule
from compliance.policy.change import reevaluate_after_policy_change
from compliance.policy.evaluation import verdict_evaluate
from compliance.policy.services import policy_rule_delete, policy_rule_save
from tests.compliance.policy.test_ruleset import admin  # noqa: F401  (fixtures)
from tests.compliance.vulndb.test_reevaluation import published, webhook  # noqa: F401  (fixtures)
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def test_banning_a_package_of_a_published_image_flips_it_and_alerts_its_team(published, admin, webhook):  # noqa: F811
    assert verdict_evaluate(build=published).passed
    policy_rule_save(actor=admin, team=None, kind="banned-packages", params={"packages": [{"name": "openssl"}]})

    counts = reevaluate_after_policy_change(None)

    assert counts == {"builds": 1, "flipped_to_fail": 1, "flipped_to_pass": 0, "alerts": 1}
    verdict = published.verdicts.order_by("-created", "-pk").first()
    assert not verdict.passed and verdict.trigger == "policy-change"
    banned = next(r for r in verdict.results if r["rule"] == "banned-packages")
    assert banned["status"] == "fail" and "libssl3" in str(banned["evidence"])
    _, received = webhook
    assert [body["build"] for body in received] == [published.pk]
    assert "banned-packages" in [rule["rule"] for rule in received[0]["failing_rules"]]


def test_a_team_rule_re_evaluates_only_that_team(published, admin):  # noqa: F811
    verdict_evaluate(build=published)
    other = TeamFactory()
    policy_rule_save(actor=admin, team=other, kind="banned-packages", params={"packages": [{"name": "openssl"}]})
    assert reevaluate_after_policy_change(other.pk)["builds"] == 0
    assert published.verdicts.order_by("-created", "-pk").first().passed


def test_every_rule_change_queues_the_re_evaluation_once_committed(admin, monkeypatch, django_capture_on_commit_callbacks):  # noqa: F811
    from compliance import tasks

    queued = []
    monkeypatch.setattr(tasks.reevaluate_policy_change, "delay", lambda team_id, trigger="policy-change": queued.append(team_id))
    team = TeamFactory()
    with django_capture_on_commit_callbacks(execute=True):
        rule = policy_rule_save(actor=admin, team=team, kind="banned-packages", params={"packages": [{"name": "x"}]})
    with django_capture_on_commit_callbacks(execute=True):
        PolicyRule.objects.filter(team=None, kind="non-root-user").get().save()  # e.g. the admin or a shell
    with django_capture_on_commit_callbacks(execute=True):
        policy_rule_delete(actor=admin, rule=rule)
    assert queued == [team.pk, None, team.pk]


def test_a_broker_outage_does_not_undo_the_rule_change(admin, monkeypatch, django_capture_on_commit_callbacks):  # noqa: F811
    from compliance import tasks

    def down(team_id, trigger="policy-change"):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.reevaluate_policy_change, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        policy_rule_save(actor=admin, team=None, kind="banned-packages", params={"packages": [{"name": "x"}]})
    assert PolicyRule.objects.filter(team=None, kind="banned-packages").exists()


def test_a_rule_change_whose_message_never_reached_a_worker_is_re_evaluated_by_the_scheduled_pass(
        published, admin, webhook, monkeypatch, django_capture_on_commit_callbacks):  # noqa: F811
    from compliance import tasks

    def down(team_id, trigger="policy-change"):
        raise ConnectionError("broker unreachable")

    verdict_evaluate(build=published)
    monkeypatch.setattr(tasks.reevaluate_policy_change, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        policy_rule_save(actor=admin, team=None, kind="banned-packages", params={"packages": [{"name": "openssl"}]})
    assert published.verdicts.order_by("-created", "-pk").first().passed
    assert PolicyReevaluationDue.objects.filter(team=None, trigger="policy-change").exists()

    counts = tasks.reevaluate_policy_due()

    assert counts["flipped_to_fail"] == 1 and counts["alerts"] == 1
    verdict = published.verdicts.order_by("-created", "-pk").first()
    assert not verdict.passed and verdict.trigger == "policy-change"
    assert [body["build"] for body in webhook[1]] == [published.pk]
    assert not PolicyReevaluationDue.objects.exists() and tasks.reevaluate_policy_due() is None


def test_a_worker_that_died_in_the_middle_leaves_the_change_owed(published, admin, monkeypatch):  # noqa: F811
    from compliance import tasks
    from compliance.policy import change

    verdict_evaluate(build=published)
    policy_rule_save(actor=admin, team=published.team, kind="banned-packages", params={"packages": [{"name": "openssl"}]})

    def killed(team_id, *, trigger):
        raise RuntimeError("the worker was killed")

    real = change.reevaluate_after_policy_change
    monkeypatch.setattr(change, "reevaluate_after_policy_change", killed)
    with pytest.raises(RuntimeError):
        tasks.reevaluate_policy_change(published.team_id, "policy-change")
    assert PolicyReevaluationDue.objects.filter(team=published.team).exists()

    monkeypatch.setattr(change, "reevaluate_after_policy_change", real)
    assert tasks.reevaluate_policy_due()["flipped_to_fail"] == 1
    assert not published.verdicts.order_by("-created", "-pk").first().passed


def test_owed_changes_are_evaluated_once_for_every_team_when_one_concerns_all(published, admin, monkeypatch):  # noqa: F811
    from compliance.policy import change

    PolicyReevaluationDue.objects.all().delete()  # what the fixtures' own rule and base changes owe
    runs = []
    monkeypatch.setattr(change, "reevaluate_after_policy_change",
                        lambda team_id, *, trigger: runs.append((team_id, trigger)) or {"builds": 0, "flipped_to_fail": 0,
                                                                                          "flipped_to_pass": 0, "alerts": 0})
    other = TeamFactory()
    for team, trigger in [(published.team, "policy-change"), (other, "policy-change"), (other, "policy-change")]:
        PolicyReevaluationDue.objects.create(team=team, trigger=trigger)
    change.policy_reevaluations_due_run(wait=True)
    assert sorted(runs) == sorted([(published.team_id, "policy-change"), (other.pk, "policy-change")]), "one run per team"

    runs.clear()
    PolicyReevaluationDue.objects.create(team=other, trigger="policy-change")
    PolicyReevaluationDue.objects.create(team=None, trigger="base-change")
    change.policy_reevaluations_due_run(wait=True)
    assert runs == [(None, "base-change")] and not PolicyReevaluationDue.objects.exists()


def test_the_scheduled_pass_runs_every_five_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["reevaluate-policy-due"]
    assert (entry["task"], entry["schedule"], entry["options"]["expires"]) == ("compliance.tasks.reevaluate_policy_due", 300, 300)

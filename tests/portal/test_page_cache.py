"""The data version and the security pages kept per user, address and version (portal/page_cache).

The version must move with every committed write of a table the pages read, whatever door wrote it
(ORM, raw SQL, COPY, TRUNCATE), and only when it commits; a kept page must never reach another
user, outlive a change of the data or of the user's access, or carry another session's CSRF token."""
import re

import psycopg
import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from compliance.models import Finding, PolicyException
from portal.models import Membership
from portal.page_cache.versions import TRIGGER, UNWATCHED, VERSION_QUERY, data_version, version_text, watched_tables
from tests.compliance.fleet import WIDESPREAD, fleet_grow
from tests.factories import member_of


def _elsewhere(sql: str, params=()) -> tuple:
    """A row as another session reads it: only committed writes."""
    settings = connection.settings_dict
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
                         dbname=settings["NAME"], autocommit=True) as other:
        return other.execute(sql, params).fetchone()


def _counted(txid: int) -> bool:
    """Whether a transaction's writes count in the version as another session sees it."""
    return _elsewhere("SELECT EXISTS (SELECT 1 FROM portal_datachange WHERE txid = %s)", [txid])[0]


def _txid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT txid_current()")
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_every_table_of_every_model_is_watched_unless_listed_as_unwatched():
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = %s",
                       [TRIGGER])
        triggered = {row[0] for row in cursor.fetchall()}
    watched = set(watched_tables())
    assert {"compliance_finding", "compliance_policyexception", "portal_membership", "auth_user_groups",
            "builds_build", "compliance_verdict", "compliance_scanseveritycount"} <= watched
    assert watched == triggered, "a table a page may read has no trigger, or an unwatched one has"
    assert not UNWATCHED & triggered


@pytest.mark.django_db(transaction=True)
def test_the_version_moves_when_a_write_commits_by_any_door_and_only_then(team, member, reviewer):
    """Other tests' late threads may write meanwhile, so what each write did is checked by its own
    transaction's row, and the version only for having moved."""
    [build] = fleet_grow(teams=[team], images=1, findings_per_image=2, requester=member, reviewer=reviewer)
    before = data_version()

    with transaction.atomic():
        Finding.objects.filter(scan__build=build).update(fixed_version="9.9")
        orm = _txid()
        assert data_version() != before, "a transaction reading after its own write sees the version move"
        assert not _counted(orm), "an uncommitted write must not move the version others see"
    assert _counted(orm)
    after_orm = version_text(_elsewhere(VERSION_QUERY))
    assert after_orm != before

    with transaction.atomic(), connection.cursor() as cursor:  # raw SQL, as the bulk matcher writes
        cursor.execute("UPDATE compliance_finding SET fixed_version = '' WHERE scan_id = %s", [build.scan.pk])
        raw = _txid()
    assert _counted(raw) and data_version() != after_orm

    with transaction.atomic():  # COPY, as re-evaluation writes new findings
        with connection.cursor() as cursor, cursor.copy("COPY portal_team (slug, name, script_network, webhook_url,"
                                                         " alert_email) FROM STDIN") as copy:
            copy.write("copied\tCopied\tf\t\t\n")
        copied = _txid()
    assert _counted(copied)

    with transaction.atomic(), connection.cursor() as cursor:  # TRUNCATE, as a flush does
        cursor.execute("TRUNCATE portal_invitation")
        truncated = _txid()
    assert _counted(truncated)

    with pytest.raises(RuntimeError), transaction.atomic():
        PolicyException.objects.all().delete()
        rolled_back = _txid()
        raise RuntimeError("rolled back")
    assert not _counted(rolled_back), "a rolled-back write counts for nothing"

    with transaction.atomic(), connection.cursor() as cursor:  # an unwatched table: a build's log
        cursor.execute("DELETE FROM builds_buildlogchunk")
        unwatched = _txid()
    assert not _counted(unwatched)


def _served(client, url, **headers):
    response = client.get(url, **headers)
    assert response.status_code == 200, (url, response.status_code)
    return response, response.content.decode()


def _without_tokens(html: str) -> str:
    """Masked CSRF tokens differ on every answer, kept or not."""
    return re.sub(r'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[A-Za-z0-9]+', r"\1", html)


@pytest.mark.django_db
def test_a_page_is_sent_again_until_its_data_changes(client, team, other_team, member, reviewer):
    [build, *_] = fleet_grow(teams=[team, other_team], images=2, findings_per_image=2, requester=member, reviewer=reviewer)
    client.force_login(reviewer)
    url = reverse("vulnerability-impact", args=[WIDESPREAD])
    first, first_html = _served(client, url)
    again, again_html = _served(client, url)
    assert (first["X-Page-Cache"], again["X-Page-Cache"]) == ("miss", "hit")
    assert _without_tokens(again_html) == _without_tokens(first_html)
    assert again_html.count(f"/builds/{build.pk}/") == first_html.count(f"/builds/{build.pk}/") > 0

    Finding.objects.filter(scan__build=build, vulnerability_id=WIDESPREAD).delete()  # fixed by a rebuild, say
    changed, changed_html = _served(client, url)
    assert changed["X-Page-Cache"] == "miss"
    assert f"/builds/{build.pk}/" not in changed_html


@pytest.mark.django_db
def test_a_kept_page_never_reaches_another_user_nor_outlives_their_access(client, team, other_team, member, reviewer):
    [mine, theirs] = fleet_grow(teams=[team, other_team], images=2, findings_per_image=2, requester=member,
                                reviewer=reviewer)
    dashboard, report = reverse("security-dashboard"), reverse("image-report", args=[theirs.pk])
    client.force_login(reviewer)
    _served(client, dashboard)
    _, reviewer_html = _served(client, dashboard)
    assert f"team={other_team.slug}" in reviewer_html

    client.force_login(member)  # same address, same data version: the member's own page
    answer, member_html = _served(client, dashboard)
    assert answer["X-Page-Cache"] == "miss"
    assert f"team={other_team.slug}" not in member_html
    assert client.get(report).status_code == 404

    outsider = member_of(other_team, "olga")
    client.force_login(outsider)
    _served(client, report)
    assert _served(client, report)[0]["X-Page-Cache"] == "hit"
    Membership.objects.filter(user=outsider).delete()  # moved out of the team: the kept report is not theirs any more
    assert client.get(report).status_code == 404


@pytest.mark.django_db
def test_a_kept_page_carries_the_csrf_token_of_the_session_it_is_sent_to(team, member, reviewer):
    fleet_grow(teams=[team], images=1, findings_per_image=2, requester=member, reviewer=reviewer)
    url = reverse("exception-list") + "?status=pending"
    tokens, browsers = [], [Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)]
    for browser in browsers:  # two browsers of the same reviewer (signing in writes last_login: a new version)
        browser.force_login(reviewer)
    for browser in browsers:  # the second one is sent the page kept for the first
        answer, html = _served(browser, url)
        token = html.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
        assert "\x00" not in html
        # the token works for this browser: signing out is a POST that needs it
        assert browser.post(reverse("logout"), {"csrfmiddlewaretoken": token}).status_code == 302
        tokens.append((answer["X-Page-Cache"], token))
    assert [state for state, _ in tokens] == ["miss", "hit"]


@pytest.mark.django_db
def test_a_page_with_a_message_waiting_is_made_for_it_and_not_kept(client, team, member, reviewer):
    from django.contrib.messages import constants
    from django.contrib.messages.storage.base import Message
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.test import RequestFactory

    fleet_grow(teams=[team], images=1, findings_per_image=2, requester=member, reviewer=reviewer)
    client.force_login(reviewer)
    url = reverse("security-dashboard")
    _served(client, url)
    storage = CookieStorage(RequestFactory().get(url))  # where a form's redirect leaves its message
    client.cookies[storage.cookie_name] = storage._encode([Message(constants.SUCCESS, "Exception approved.")])
    answer, html = _served(client, url)
    assert "Exception approved." in html
    assert "X-Page-Cache" not in answer
    assert "Exception approved." not in _served(client, url)[1]

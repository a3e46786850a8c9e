"""While the database cannot be reached: a 503 saying to retry, never a 500 traceback. The real
outage (PostgreSQL stopped under gunicorn) is in tests/integration/test_fault_database_restart.py;
these pin the answers' shape for both ways the error arrives."""
from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client

pytestmark = pytest.mark.django_db


def test_an_api_view_hitting_a_dead_database_answers_json_503_with_retry_after(member):
    client = Client(raise_request_exception=False)
    client.force_login(member)
    with mock.patch("builds.api.BuildViewSet.list", side_effect=OperationalError("connection refused")):
        answer = client.get("/api/builds/")
    assert answer.status_code == 503
    assert answer.json() == {"detail": "database unavailable, retry shortly", "code": "database-unavailable"}
    assert int(answer["Retry-After"]) > 0


def test_a_page_whose_session_cannot_be_loaded_answers_the_503_page(member):
    """The error arises in middleware (loading the session for the login check), before any view."""
    client = Client(raise_request_exception=False)
    client.force_login(member)
    with mock.patch("django.contrib.sessions.backends.db.SessionStore.load",
                    side_effect=InterfaceError("connection already closed")):
        answer = client.get("/")
    assert answer.status_code == 503
    assert b"database unavailable, retry shortly" in answer.content and b"Traceback" not in answer.content
    assert answer["Retry-After"].isdigit()


def test_other_errors_still_answer_500(member):
    client = Client(raise_request_exception=False)
    client.force_login(member)
    with mock.patch("builds.api.BuildViewSet.list", side_effect=RuntimeError("a bug")):
        assert client.get("/api/builds/").status_code == 500

"""A clear 503 instead of a 500 traceback while the database cannot be reached.

PostgreSQL restarting (an upgrade, a failover) makes every query raise OperationalError or
InterfaceError. People get a short page saying to retry; API clients get JSON and Retry-After,
which well-behaved clients honour. The web process needs no restart afterwards: connections
are checked before reuse (CONN_HEALTH_CHECKS) and a broken one is dropped at the end of the
request, so the next request opens a fresh one.

Nothing here may touch the database: the page is rendered without the request context (the
context processors and `request.user` would query it).
"""
import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views.defaults import server_error

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
MESSAGE = "database unavailable, retry shortly"
JSON_PREFIXES = ("/api/", "/harbor/")


def is_database_outage(error: BaseException | None) -> bool:
    return isinstance(error, (OperationalError, InterfaceError))


def database_unavailable(request, error: BaseException) -> HttpResponse:
    log.warning("database unavailable while serving %s %s: %s", request.method, request.path, error)
    if request.path.startswith(JSON_PREFIXES):
        response = JsonResponse({"detail": MESSAGE, "code": "database-unavailable"}, status=503)
    else:
        response = HttpResponse(render_to_string("503_database.html", {"message": MESSAGE,
                                                                         "retry_after": RETRY_AFTER_SECONDS}),
                                status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseOutageMiddleware:
    """Turns a database outage raised by a view into the 503 (errors raised by other middleware,
    such as the login check loading the user, reach `handler500` below instead)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_database_outage(exception):
            return database_unavailable(request, exception)
        return None


def handler500(request, *args, **kwargs):
    """Django calls this inside its `except` block, so the exception is still in sys.exc_info()."""
    error = sys.exc_info()[1]
    if is_database_outage(error):
        return database_unavailable(request, error)
    return server_error(request, *args, **kwargs)

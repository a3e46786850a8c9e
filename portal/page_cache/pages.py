"""`cached_page`: a page's HTML kept per user, address and data version, and sent again while none of
the data it was read from changed (`versions.data_version`).

What makes a kept page right to send again:
- it was made by the view for this very user, so every access check the view made held for them
  then; a change of their memberships or roles is a write of a watched table, which moves the version;
- the version is read before the view reads anything, so a kept page is never older than its version;
- the one per-request part of the HTML, the CSRF token, is kept as a placeholder and filled in with
  this request's token;
- a request with a message waiting to be shown (after a form) is answered by the view and not kept.
What depends on the clock alone (an exception expiring today, "3 minutes ago") is at most
PAGE_CACHE_SECONDS old. Only 200 answers in HTML are kept; CSV exports and errors never are."""
import functools
import hashlib
import re

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import caches
from django.db import connection
from django.http import HttpResponse
from django.middleware.csrf import get_token

from portal.page_cache.versions import data_version

# Where templates write the token: htmx's headers on <body>, and each form's hidden field.
TOKENS = re.compile(rb'"X-CSRFToken": "([A-Za-z0-9]{32,64})"|name="csrfmiddlewaretoken" value="([A-Za-z0-9]{32,64})"')
PLACEHOLDER = b"\x00csrf\x00"
KEPT_HEADERS = ("Content-Type", "Vary")


def _key(request, version: str) -> str:
    parts = (connection.settings_dict["NAME"], version, request.user.pk, request.get_full_path(),
             request.headers.get("HX-Request", ""), request.headers.get("HX-Target", ""))
    return "page:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def _keepable(response) -> bool:
    return (response.status_code == 200 and not response.streaming
            and response.get("Content-Type", "").startswith("text/html"))


def cached_page(view):
    """Decorate a GET view whose page depends only on the database, the user and the address."""
    @functools.wraps(view)
    def answer(request, *args, **kwargs):
        if (not settings.PAGE_CACHE_SECONDS or request.method != "GET" or not request.user.is_authenticated
                or len(get_messages(request))):
            return view(request, *args, **kwargs)
        version = data_version()
        if version is None:
            return view(request, *args, **kwargs)
        pages, key = caches["pages"], _key(request, version)
        kept = pages.get(key)
        if kept is not None:
            content, headers = kept
            response = HttpResponse(content.replace(PLACEHOLDER, get_token(request).encode()))
            for name, value in headers.items():
                response[name] = value
            response["X-Page-Cache"] = "hit"
            return response
        response = view(request, *args, **kwargs)
        if _keepable(response):
            content = response.content
            for token in {a or b for a, b in TOKENS.findall(content)}:
                content = content.replace(token, PLACEHOLDER)
            pages.set(key, (content, {name: response[name] for name in KEPT_HEADERS if name in response}),
                      timeout=settings.PAGE_CACHE_SECONDS)
            response["X-Page-Cache"] = "miss"
        return response
    return answer

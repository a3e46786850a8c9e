"""The REST API: each app's routes (`<app>/api_urls.py`) under /api/, and a root listing them."""
from django.urls import URLPattern, URLResolver, get_resolver, include, path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

APPS = ["portal.accounts.api_urls", "portal.people.api_urls", "portal.robots.api_urls", "portal.teams.api_urls", "curation.api_urls", "builds.api_urls",
        "compliance.api_urls"]


class ApiRoot(APIView):
    """Every collection of the API with its URL (the list routes the apps register)."""

    @extend_schema(responses={200: {"type": "object", "additionalProperties": {"type": "string", "format": "uri"},
                                    "description": "Collection name -> its URL"}})
    def get(self, request, format=None):
        found = {}
        for prefix, name in _list_routes(get_resolver(), ""):
            try:
                found[prefix] = reverse(name, request=request, format=format)
            except Exception:  # a collection nested under an id (a build's reports) has no root URL
                continue
        return Response(found)


def _list_routes(resolver, prefix: str):
    """(route prefix, URL name) of the routers' list routes under /api/."""
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _list_routes(entry, route)
        elif isinstance(entry, URLPattern) and (entry.name or "").endswith("-list") and route.startswith("api/"):
            yield route.removeprefix("api/").lstrip("^").removesuffix("$").rstrip("/"), entry.name


urlpatterns = [path("", ApiRoot.as_view(), name="api-root"), *(path("", include(app)) for app in APPS)]

"""404 for a URL no route matches: JSON under /api/ (what an API client parses), the page elsewhere.

A router's detail route matches only its own id shape, so `/api/builds/abc/` is decided by the URL
resolver, not by DRF: without this it would answer Django's HTML page to an API client.
"""
from django.http import JsonResponse
from django.views.defaults import page_not_found


def handler404(request, exception):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)

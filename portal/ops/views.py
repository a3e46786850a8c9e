"""Liveness and readiness: no login (orchestrators have none), cheap."""
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.ops.health import readiness


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """The process answers: nothing else is checked (a dependency's outage must not get the web
    process restarted)."""
    return HttpResponse("ok\n", content_type="text/plain")


@login_not_required
@never_cache
@require_GET
def readyz(request):
    checks = readiness()
    ok = all(check["ok"] for check in checks.values())
    failing = [name for name, check in checks.items() if not check["ok"]]
    return JsonResponse({"ok": ok, "failing": failing, "checks": checks}, status=200 if ok else 503)


"""Liveness, readiness and metrics: no login (orchestrators and Prometheus have none), cheap."""
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from portal.ops.health import readiness
from portal.ops.metrics import metrics_allowed, metrics_text


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


@login_not_required
@never_cache
@require_GET
def metrics(request):
    if not metrics_allowed(request):
        return HttpResponse("Forbidden: /metrics is for loopback clients or a bearer METRICS_TOKEN.\n",
                            status=403, content_type="text/plain")
    # The classic text format (generate_latest's output), which every Prometheus version reads.
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_PLAIN_0_0_4)

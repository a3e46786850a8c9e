from portal.ops.views import healthz, readyz

PROBES = {"/healthz": healthz, "/readyz": readyz}


class ProbeMiddleware:
    """Answers /healthz and /readyz before anything looks at the request: an orchestrator probes
    with the pod's address as Host (not in ALLOWED_HOSTS) and over plain HTTP (no HTTPS redirect),
    and a probe needs no session, CSRF or lockout."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)

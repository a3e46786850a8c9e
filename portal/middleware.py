from django.contrib.auth.middleware import LoginRequiredMiddleware


class PortalLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Login required on every page; the API and the Harbor scanner adapter authenticate
    themselves (tokens) and answer 401/403."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith(("/api/", "/harbor/")):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)

"""Pages for a user who still holds a one-time password: every one of them leads to the password
page, which then takes the user where they were going. The API decides for itself (its session and
token authentication refuse such a user with a 403 saying why), so its paths pass through here."""
from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from portal.accounts.passwords import password_change_pending

# What a user with a one-time password may still reach: logging in and out, the password page, and
# what answers the same to anyone (probes, metrics, public keys); the registry's token server and the
# API check their callers themselves; an invitation's page (someone else's link, opened in this browser).
PASSES = {"login", "logout", "account-password", "invitation-accept", "healthz", "readyz", "metrics", "registry-token",
          "well-known-signing-keys", "well-known-signing-keys-pem", "verdict-schema"}
SELF_CHECKING_PREFIXES = ("/api/", "/harbor/")


class PasswordChangeFirstMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        path = request.path_info
        if path.startswith(SELF_CHECKING_PREFIXES) or path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return None
        name = request.resolver_match.url_name if request.resolver_match else None
        if (name in PASSES and name != "account-password") or not request.user.is_authenticated:
            return None
        # The password page reads it too: it explains why the user is there and hides the navigation.
        request.password_change_required = password_change_pending(request.user) is not None
        if not request.password_change_required or name == "account-password":
            return None
        return self._to_password_page(request)

    @staticmethod
    def _to_password_page(request):
        htmx = getattr(request, "htmx", None)
        # Where the user was going: the page (for a fragment, the page it was asked from); a form
        # they posted is not replayed.
        wanted = htmx.current_url_abs_path if htmx else (request.get_full_path() if request.method in ("GET", "HEAD") else "")
        target = reverse("account-password") + ("?" + urlencode({"next": wanted}) if wanted else "")
        if htmx:  # a fragment request: the browser goes to the page instead of swapping it in
            return HttpResponseClientRedirect(target)
        return redirect(target)

"""The API tokens page: the signed-in user's tokens, a form for a new one, rotate and revoke. A new
secret is shown in the answer to the POST that made it, never stored or put in a message (those
travel in cookies)."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from portal.accounts.models import ApiToken
from portal.accounts.passwords import PAGE_MESSAGE, password_change_pending, password_changed
from portal.accounts.tokens import token_issue, token_revoke, token_rotate, tokens_of

TEMPLATE = "portal/api_tokens.html"


def _own_token_or_404(request, pk) -> ApiToken:
    return get_object_or_404(tokens_of(request.user), pk=pk)


def _page(request, *, status=200, **extra):
    hours = settings.API_TOKEN_TTL_HOURS
    context = {"tokens": tokens_of(request.user), "errors": {}, "values": {},
               "lifetime": f"{hours // 24} days" if hours % 24 == 0 else f"{hours} hours"} | extra
    # A page carrying a secret must not be kept by the browser's or a proxy's cache.
    response = render(request, TEMPLATE, context, status=status)
    if "issued" in extra:
        response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
def api_tokens(request):
    if request.method == "POST":
        name = request.POST.get("name", "")
        try:
            issued = token_issue(user=request.user, name=name)
        except ValidationError as error:
            return _page(request, status=400, errors=error.message_dict, values={"name": name})
        return _page(request, status=201, issued=issued)
    return _page(request)


@require_POST
def api_token_rotate(request, pk):
    token = _own_token_or_404(request, pk)
    try:
        issued = token_rotate(user=request.user, token=token)
    except ValidationError as error:
        return _page(request, status=400, errors={"token": error.messages})
    return _page(request, status=201, issued=issued, rotated=token)


@require_POST
def api_token_revoke(request, pk):
    token = _own_token_or_404(request, pk)
    try:
        token_revoke(actor=request.user, token=token)
    except ValidationError as error:
        return _page(request, status=400, errors={"token": error.messages})
    messages.success(request, f"Revoked token “{token.name}” ({token.prefix}…): requests carrying it are refused from now on.")
    return redirect("account-tokens")


class PasswordChange(auth_views.PasswordChangeView):
    """Users replace a password someone else set (the one-time password of a new user, or of a
    reset) with their own; Django's validators apply, and the change is audited. Until a one-time
    password is replaced every other page leads here, with `next` naming where the user was going."""

    template_name = "registration/password_change.html"

    def _next(self) -> str:
        wanted = self.request.POST.get("next") or self.request.GET.get("next") or ""
        safe = url_has_allowed_host_and_scheme(wanted, allowed_hosts={self.request.get_host()},
                                               require_https=self.request.is_secure())
        return wanted if safe and wanted.startswith("/") else ""

    def get_success_url(self):
        return self._next() or reverse("home")

    def get_context_data(self, **kwargs):
        pending = password_change_pending(self.request.user)
        return super().get_context_data(**kwargs) | {"next": self._next(), "one_time": pending,
                                                      "one_time_message": PAGE_MESSAGE}

    def form_valid(self, form):
        response = super().form_valid(form)
        password_changed(user=self.request.user)
        messages.success(self.request, "Your password is changed.")
        return response

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)

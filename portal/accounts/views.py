"""The API tokens page: the signed-in user's tokens, a form for a new one, rotate and revoke. A new
secret is shown in the answer to the POST that made it, never stored or put in a message (those
travel in cookies)."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods, require_POST

from portal.accounts.models import ApiToken
from portal.accounts.tokens import token_issue, token_revoke, token_rotate, tokens_of
from portal.audit import audit_record

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
    """Users replace a password someone else set (the one-time password a platform admin's new
    user gets) with their own; Django's validators apply, and the change is audited."""

    template_name = "registration/password_change.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit_record(actor=self.request.user, action="user.password_changed", target=self.request.user)
        messages.success(self.request, "Your password is changed.")
        return response

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)

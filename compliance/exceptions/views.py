"""Exception pages: the register (with the reviewers' queue), request form and detail with decisions."""
import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_GET, require_POST

from builds.models import Build
from compliance.exceptions.selectors import TABS, exception_impact, exception_tab_q, exceptions_of_team, exceptions_visible_to
from compliance.exceptions.services import DecisionConflict, exception_decide, exception_request, exception_revoke
from compliance.models import PolicyException
from portal.models import AuditEvent
from portal.page_cache.pages import cached_page
from portal.rbac import is_security_reviewer, team_scope, visible_teams


@require_GET
@cached_page
def exception_list(request):
    """The register, one tab at a time, of one team with ?team= (a team the user may not see is
    ignored: every exception they may see is listed)."""
    tab = request.GET.get("status", "pending" if is_security_reviewer(request.user) else "active")
    tab = tab if tab in TABS else "active"
    teams = visible_teams(request.user)
    team, _ = team_scope(teams, request.GET.get("team"))
    visible = exceptions_of_team(exceptions_visible_to(request.user), team)
    exceptions = (visible.filter(exception_tab_q(tab, timezone.now()))
                  .select_related("team", "recipe__team", "requested_by", "decided_by"))  # a recipe's name shows its team
    return render(request, "compliance/exception_list.html", {
        "exceptions": exceptions.order_by("expires_at" if tab in ("active", "expiring") else "requested_at")[:500],
        "tab": tab, "tabs": TABS, "teams": teams, "team": team,
        "pending_count": visible.filter(exception_tab_q("pending", timezone.now())).count(),
    })


def expiry_from_date(value):
    """The end of the day a date field names (None when it names none)."""
    day = parse_date(value or "")
    if day is None:
        return None
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(23, 59)))


def exception_new(request):
    build = None
    if request.GET.get("build") or request.POST.get("build"):
        build = get_object_or_404(Build.objects.select_related("recipe", "team"),
                                  pk=request.GET.get("build") or request.POST.get("build"),
                                  team__in=visible_teams(request.user))
    values = request.POST if request.method == "POST" else request.GET
    context = {"build": build, "values": values, "errors": {}, "scopes": PolicyException.Scope.choices,
               "kinds": PolicyException.Target.choices, "reasons": PolicyException.Reason.choices}
    if request.method == "POST":
        try:
            exception = exception_request(
                user=request.user, scope=values.get("scope", ""), target_kind=values.get("target_kind", ""),
                target=values.get("target", ""), reason=values.get("reason", ""),
                justification=values.get("justification", ""), expires_at=expiry_from_date(values.get("expires_at")),
                team=build.team if build else None, recipe=build.recipe if build else None,
                digest=build.digest if build else "", ticket=values.get("ticket", ""),
                end_when_fixed=values.get("end_when_fixed") == "1")
        except ValidationError as error:
            context["errors"] = {k: " ".join(v) for k, v in error.message_dict.items()}
            return render(request, "compliance/exception_new.html", context, status=400)
        messages.success(request, f"Exception request {exception.pk} sent to the security reviewers.")
        return redirect("exception-detail", pk=exception.pk)
    return render(request, "compliance/exception_new.html", context)


def _render_detail(request, pk, status=200):
    exception = get_object_or_404(exceptions_visible_to(request.user).select_related("team", "recipe", "requested_by", "decided_by"), pk=pk)

    history = AuditEvent.objects.filter(target_type="PolicyException", target_id=str(exception.pk)).select_related("actor").order_by("created")
    approvals = list(exception.approvals.select_related("reviewer"))
    return render(request, "compliance/exception_detail.html", {
        "exception": exception, "history": history, "approvals": approvals,
        "can_decide": is_security_reviewer(request.user) and exception.requested_by_id != request.user.pk,
        "approved_by_me": any(a.reviewer_id == request.user.pk for a in approvals),
        "awaiting_review": exception.status in PolicyException.AWAITING_REVIEW,
        "impact": exception_impact(exception, request.user),
    }, status=status)


@require_GET
def exception_detail(request, pk):
    return _render_detail(request, pk)


@require_POST
def exception_decision(request, pk):
    exception = get_object_or_404(exceptions_visible_to(request.user), pk=pk)
    action, comment = request.POST.get("action"), request.POST.get("comment", "")
    try:
        if action == "revoke":
            exception_revoke(user=request.user, exception=exception, comment=comment)
        else:
            exception_decide(user=request.user, exception=exception, approve=action == "approve", comment=comment,
                             expires_at=expiry_from_date(request.POST.get("expires_at")))
        exception.refresh_from_db()
        waiting = " It needs a second approval from another reviewer before it applies." \
            if exception.status == PolicyException.Status.AWAITING_SECOND else ""
        if exception.status == PolicyException.Status.EXPIRED:  # it ended as it applied (a fix appeared meanwhile)
            messages.warning(request, f"Exception {exception.pk}: approved, but it does not apply: {exception.decision_comment}")
        else:
            messages.success(request, f"Exception {exception.pk}: {action} recorded.{waiting}")
    except DecisionConflict as conflict:
        # Someone decided first, or this reviewer already approved: the current state, with why.
        messages.error(request, str(conflict))
        return _render_detail(request, exception.pk, status=409)
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    return redirect("exception-detail", pk=exception.pk)

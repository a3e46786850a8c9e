"""Proposed base images reviewed on a page, outside the Django admin: the pending proposals with who
proposed them, from which build and team, that build's current verdict, image reference and layers;
Approve and Reject, each confirmed on a page of its own. The rules and the audit are
curation.proposals' (base_approve, base_reject); a refusal is shown with its reason."""
from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from catalog.models import BaseImage, ProposalState
from compliance.models import Verdict
from curation.proposals import ProposalError, base_approve, base_reject, base_reviewer_required

REASON_MAX = 500  # what the audit record keeps


def pending_proposals():
    """Pending bases with what a reviewer decides on: the source build, its team and recipe, and
    its verdicts newest first (the first is the current one)."""
    return (BaseImage.objects.filter(proposal_state=ProposalState.PENDING)
            .select_related("proposed_by", "source_build__team", "source_build__recipe")
            .prefetch_related(Prefetch("source_build__verdicts", queryset=Verdict.objects.order_by("-created"))))


def _with_verdict(base: BaseImage) -> BaseImage:
    base.verdict = base.source_build.verdicts.all()[0] if base.source_build and base.source_build.verdicts.all() else None
    return base


@require_GET
def proposal_list(request):
    base_reviewer_required(request.user)
    proposals = [_with_verdict(base) for base in pending_proposals()]
    decided = (BaseImage.objects.filter(proposal_state__in=[ProposalState.APPROVED, ProposalState.REJECTED])
               .select_related("reviewed_by", "proposed_by").order_by("-reviewed_at")[:10])
    return render(request, "curation/proposal_list.html", {"proposals": proposals, "decided": decided})


def _review(request, slug, decision: str):
    """GET: the confirmation page. POST: the decision (a rejection needs a reason, which tells the
    team why and goes into the audit record); a refusal comes back on the same page."""
    base_reviewer_required(request.user)
    base = _with_verdict(get_object_or_404(BaseImage.objects.exclude(proposal_state="").select_related(
        "proposed_by", "source_build__team", "source_build__recipe"), slug=slug))
    errors, reason = {}, request.POST.get("reason", "").strip()
    if request.method == "POST":
        if decision == "reject" and not reason:
            errors["reason"] = ["Say why the proposal is rejected: the team reads it."]
        elif len(reason) > REASON_MAX:
            errors["reason"] = [f"Keep the reason to {REASON_MAX} characters."]
        else:
            try:
                if decision == "approve":
                    base_approve(user=request.user, base=base)
                else:
                    base_reject(user=request.user, base=base, reason=reason)
            except ProposalError as error:
                errors["decision"] = [str(error)]
            else:
                done = "approved: teams can choose it now" if decision == "approve" else "rejected"
                messages.success(request, f"Base image {base.slug} {done}.")
                return redirect("base-proposal-list")
    return render(request, "curation/proposal_confirm.html", {
        "base": base, "decision": decision, "reason": reason, "errors": errors, "reason_max": REASON_MAX,
    }, status=400 if errors else 200)


@require_http_methods(["GET", "POST"])
def proposal_approve(request, slug):
    return _review(request, slug, "approve")


@require_http_methods(["GET", "POST"])
def proposal_reject(request, slug):
    return _review(request, slug, "reject")

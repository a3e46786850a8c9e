"""Page action: propose a published build's image as a custom base image."""
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from builds.models import Build
from curation.proposals import ProposalError, base_propose
from portal.rbac import visible_teams


@require_POST
def build_propose_base(request, pk):
    build = get_object_or_404(Build.objects.select_related("team", "recipe__base"), pk=pk,
                              team__in=visible_teams(request.user))
    try:
        base = base_propose(user=request.user, build=build, slug=request.POST.get("slug", "").strip(),
                            name=request.POST.get("name", ""), description=request.POST.get("description", ""))
    except PermissionDenied:
        messages.error(request, "Only members of the owning team may propose this image as a base.")
    except ProposalError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Proposed as base image {base.slug}; a platform admin will review it.")
    return redirect("build-detail", pk=build.pk)

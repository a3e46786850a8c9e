"""REST API for custom base images: propose a published image, and (platform admins) approve or reject."""
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from builds.models import Build
from catalog.models import BaseImage
from curation.proposals import ProposalError, base_approve, base_propose, base_reject, base_reviewer_required
from curation.serializers import BaseProposalInputSerializer, BaseProposalSerializer, BaseReviewSerializer
from portal.api_schema import ErrorSerializer
from portal.rbac import visible_teams


class BaseProposalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Base images proposed from published builds, in any state (`?state=pending` for the queue)."""

    serializer_class = BaseProposalSerializer
    lookup_field = "slug"

    def get_queryset(self):
        bases = BaseImage.objects.exclude(proposal_state="").select_related("proposed_by", "reviewed_by")
        state = self.request.query_params.get("state")
        return bases.filter(proposal_state=state) if state else bases

    @extend_schema(request=BaseProposalInputSerializer, responses={201: BaseProposalSerializer, 404: ErrorSerializer})
    def create(self, request):
        data = BaseProposalInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        build = get_object_or_404(Build.objects.select_related("team", "recipe__base"), pk=data.validated_data["build"],
                                  team__in=visible_teams(request.user))
        values = {k: data.validated_data[k] for k in ("slug", "name", "description")}
        base = self._run(lambda: base_propose(user=request.user, build=build, **values))
        return Response(BaseProposalSerializer(base).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: BaseProposalSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, slug=None):
        """Platform admins: make the base selectable, pinned by its digest and layer list."""
        base = self._run(lambda: base_approve(user=request.user, base=self.get_object()))
        return Response(BaseProposalSerializer(base).data)

    @extend_schema(request=BaseReviewSerializer, responses={200: BaseProposalSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, slug=None):
        """Platform admins: refuse the proposal; the base is retired."""
        base = self.get_object()
        self._run(lambda: base_reviewer_required(request.user))  # 403 before anything is said about the body
        review = BaseReviewSerializer(data=request.data)
        review.is_valid(raise_exception=True)
        base = self._run(lambda: base_reject(user=request.user, base=base, reason=review.validated_data["reason"]))
        return Response(BaseProposalSerializer(base).data)

    @staticmethod
    def _run(operation):
        try:
            return operation()
        except PermissionDenied as error:
            raise ApiPermissionDenied(str(error))
        except ProposalError as error:
            raise ValidationError({"detail": str(error)})

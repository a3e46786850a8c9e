"""REST API for custom base images (propose a published image; platform admins approve or reject),
for rebuilds (platform admins: plan with a dry run, run, follow, retry), for the lifecycle of
component versions and base images, and for new components and bases and re-pinning a base
(platform admins). The catalog's collections are read as catalog.api reads them, by anyone signed
in, and written here: one viewset serves each URL."""
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from builds.models import Build
from catalog import api as catalog_api
from catalog.models import BaseImage, ComponentVersion
from catalog.serializers import BaseImageSerializer, ComponentSerializer, ComponentVersionSerializer
from curation.entries import EntryError, base_create, base_repin, component_create
from curation.lifecycle import LifecycleError, base_transition, catalog_curator_required, version_transition
from curation.models import RebuildItem
from curation.proposals import ProposalError, base_approve, base_propose, base_reject, base_reviewer_required
from curation.rebuild_plans import (
    RebuildError,
    RebuildSubject,
    rebuild_batches,
    rebuild_dry_run,
    rebuild_item_retry,
    rebuild_plan,
    rebuild_planner_required,
    rebuild_run,
    rebuild_subject,
)
from curation.serializers import (
    BaseInputSerializer,
    BaseLifecycleInputSerializer,
    BaseProposalInputSerializer,
    BaseProposalSerializer,
    BaseReviewSerializer,
    ComponentInputSerializer,
    LifecycleInputSerializer,
    RebuildBatchSerializer,
    RebuildInputSerializer,
    RebuildItemSerializer,
    RebuildPlanSerializer,
)
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


class PlatformAdminsOnly:
    """Rebuilds and lifecycle moves are for platform admins: everyone else gets 403 before
    anything is read (the body, the id)."""

    access_check = staticmethod(rebuild_planner_required)
    open_actions: tuple[str, ...] = ()  # what anyone signed in may do (the catalog's reads)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.action in self.open_actions:
            return
        try:
            self.access_check(request.user)
        except PermissionDenied as error:
            raise ApiPermissionDenied(str(error))


def _subject_from(request) -> tuple[RebuildSubject, str]:
    data = RebuildInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    values = data.validated_data
    try:
        return rebuild_subject(base=values["base"], component=values["component"], upgrade=values["upgrade"]), values["mode"]
    except RebuildError as error:
        raise ValidationError({"detail": str(error)})


# Reads are refused too (403) to anyone but platform admins: say so, as the writes' 403 is.
@extend_schema_view(list=extend_schema(responses={200: RebuildBatchSerializer(many=True), 403: ErrorSerializer}),
                    retrieve=extend_schema(responses={200: RebuildBatchSerializer, 403: ErrorSerializer}))
class RebuildViewSet(PlatformAdminsOnly, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Rebuilds of every recipe using a base image or a component (platform admins): plan with a dry
    run, run (a batch whose items request builds), read a batch's progress."""

    serializer_class = RebuildBatchSerializer

    def get_queryset(self):
        return rebuild_batches()

    @extend_schema(request=RebuildInputSerializer, responses={200: RebuildPlanSerializer})
    @action(detail=False, methods=["post"])
    def plan(self, request):
        """The impact in build order and the dry run's result per recipe; nothing is built or changed."""
        subject, mode = _subject_from(request)
        plan = rebuild_dry_run(user=request.user, plan=rebuild_plan(user=request.user, subject=subject, mode=mode))
        return Response(RebuildPlanSerializer(plan).data)

    @extend_schema(request=RebuildInputSerializer, responses={201: RebuildBatchSerializer})
    def create(self, request):
        """Run the rebuild: plan it again now, keep the batch, request each recipe's build in order."""
        subject, mode = _subject_from(request)
        try:
            batch = rebuild_run(user=request.user, subject=subject, mode=mode)
        except RebuildError as error:
            raise ValidationError({"detail": str(error)})
        return Response(RebuildBatchSerializer(self.get_queryset().get(pk=batch.pk)).data, status=status.HTTP_201_CREATED)


class RebuildItemViewSet(PlatformAdminsOnly, viewsets.GenericViewSet):
    serializer_class = RebuildItemSerializer

    def get_queryset(self):
        return RebuildItem.objects.select_related("recipe__team", "build")

    @extend_schema(request=None, responses={200: RebuildItemSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Request a new build for a recipe that failed to compose or whose build failed."""
        try:
            item = rebuild_item_retry(user=request.user, item=self.get_object())
        except RebuildError as error:
            raise ValidationError({"detail": str(error)})
        return Response(RebuildItemSerializer(item).data)


def _lifecycle_move(request, *, given_as, candidates, lookup: str, missing, transition):
    """The lifecycle action, for versions and bases alike: the body (read by `given_as`; its
    replacement is found among `candidates` by `lookup`, or `missing(name)` said), then the move under
    curation.lifecycle's rules (400 with the reason when they refuse it)."""
    given = given_as(data=request.data)
    given.is_valid(raise_exception=True)
    replacement = None
    if name := given.validated_data.get("replacement"):
        replacement = candidates.filter(**{lookup: name}).first()
        if replacement is None:
            raise ValidationError({"replacement": [missing(name)]})
    try:
        return transition(user=request.user, to=given.validated_data["to"], replacement=replacement,
                          sunset_date=given.validated_data.get("sunset_date"))
    except LifecycleError as error:
        raise ValidationError({"detail": str(error)})


class CatalogCuratorsOnly(PlatformAdminsOnly):
    access_check = staticmethod(catalog_curator_required)


class ComponentVersionViewSet(CatalogCuratorsOnly, viewsets.GenericViewSet):
    """Component versions' lifecycle moves (platform admins; the rules are curation.lifecycle's).
    Reads are the components' (/api/catalog/components/)."""

    serializer_class = ComponentVersionSerializer

    def get_queryset(self):
        return ComponentVersion.objects.select_related("component", "replacement")

    @extend_schema(request=LifecycleInputSerializer, responses={200: ComponentVersionSerializer, 403: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def lifecycle(self, request, pk=None):
        """Move the version: draft -> published -> deprecated (a replacement or a sunset date, or both)
        -> retired (after the sunset date, or once no recipe uses it); deprecated -> published withdraws it."""
        version = self.get_object()
        moved = _lifecycle_move(
            request, given_as=LifecycleInputSerializer, candidates=version.component.versions.all(), lookup="version",
            missing=lambda name: f"{version.component.name} has no version {name}.",
            transition=lambda **move: version_transition(version=version, **move))
        return Response(ComponentVersionSerializer(self.get_queryset().get(pk=moved.pk)).data)


def _entry(operation):
    try:
        return operation()
    except EntryError as error:
        raise ValidationError(error.errors)


CATALOG_READS = ("list", "retrieve")


class ComponentViewSet(CatalogCuratorsOnly, catalog_api.ComponentViewSet):
    """Components: read by anyone signed in (catalog.api); created by platform admins."""

    open_actions = CATALOG_READS

    @extend_schema(request=ComponentInputSerializer, responses={201: ComponentSerializer, 403: ErrorSerializer})
    def create(self, request):
        """A new component, without versions (curation.entries.component_create): teams are offered it
        once a version of it is published (`POST /api/catalog/versions/<id>/lifecycle/`)."""
        given = ComponentInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        component = _entry(lambda: component_create(user=request.user, **given.validated_data))
        return Response(ComponentSerializer(self.get_queryset().get(pk=component.pk)).data, status=status.HTTP_201_CREATED)


class BaseImageViewSet(CatalogCuratorsOnly, catalog_api.BaseImageViewSet):
    """Base images: read by anyone signed in (catalog.api; drafts by platform admins only); created,
    re-pinned and moved through the lifecycle by platform admins."""

    open_actions = CATALOG_READS

    @extend_schema(request=BaseInputSerializer, responses={201: BaseImageSerializer, 403: ErrorSerializer})
    def create(self, request):
        """A new base from the portal's registry (curation.entries.base_create): pinned to the digest and
        layers its tag has now, approved, in draft until published (`.../lifecycle/`). Refused (400, by
        field) for a repository under quarantine/ or published/, a tag the registry does not have, an
        image that is another base already, or a registry that cannot be read; nothing is saved then."""
        given = BaseInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        base = _entry(lambda: base_create(user=request.user, **given.validated_data))
        return Response(BaseImageSerializer(self.get_queryset().get(pk=base.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: BaseImageSerializer, 403: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def repin(self, request, slug=None):
        """Pin the base to the digest its tag has in the registry now (audited with the digest before);
        then plan the rebuild of the recipes on it (`POST /api/rebuilds/plan/` with `{"base"}`). A
        proposal waiting for review or a retired base is refused (400)."""
        base = _entry(lambda: base_repin(user=request.user, base=self.get_object()))
        return Response(BaseImageSerializer(self.get_queryset().get(pk=base.pk)).data)

    @extend_schema(request=BaseLifecycleInputSerializer, responses={200: BaseImageSerializer, 403: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def lifecycle(self, request, slug=None):
        """Move the base: draft -> published -> deprecated (a replacement base or a sunset date, or
        both) -> retired (after the sunset date, or once no recipe uses it); deprecated -> published
        withdraws it."""
        base = self.get_object()
        moved = _lifecycle_move(
            request, given_as=BaseLifecycleInputSerializer, candidates=BaseImage.objects.all(), lookup="slug",
            missing=lambda name: f"There is no base image {name}.", transition=lambda **move: base_transition(base=base, **move))
        return Response(BaseImageSerializer(self.get_queryset().get(pk=moved.pk)).data)

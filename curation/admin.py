from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from catalog.models import BaseImage, Component, ComponentVersion, Lifecycle
from curation.entries import EntryError, base_repin, component_check
from curation.proposals import ProposalError, base_approve, base_reject
from curation.rebuild_plans import RebuildError, rebuild_subject
from curation.usage import recipes_using_base, recipes_using_component
from curation.versions import version_check
from portal.admin_site import AuditedAdmin, PlatformAdminOnly


def _used_by(recipes, subject: str, catalog_page: str) -> str:
    rows = [format_html('<li><a href="{}">{}/{}</a></li>', reverse("recipe-detail", args=[r.pk]), r.team.slug, r.name)
            for r in recipes[:200]]
    # The Catalog page has the whole picture: each recipe's version, current image and verdict.
    page = format_html('<p><a href="{}">Open its Catalog page</a> (versions, lifecycle, each recipe\'s image and verdict)</p>',
                       catalog_page)
    if not rows:
        return format_html("{}Not used by any recipe.", page)
    plan = format_html('<p><a href="{}?subject={}">Plan a rebuild of these recipes</a> (impact, dry run, progress)</p>',
                       reverse("rebuild-new"), subject)
    return format_html("{}{}<ul>{}</ul>", page, plan, mark_safe("".join(rows)))


def _plan(modeladmin, request, subjects: list[tuple[str, dict]]):
    """The rebuild actions open the Rebuilds page's plan (impact and dry run, then a confirmation)
    instead of running: a rebuild is planned, then run, whichever door it starts from. One subject:
    its plan; several: a link to each plan, since a plan is of one base or one component."""
    plans = [(label, f"{reverse('rebuild-new')}?{urlencode(query)}") for label, query in subjects]
    if len(plans) == 1:
        return HttpResponseRedirect(plans[0][1])
    if plans:
        modeladmin.message_user(request, format_html(
            "A rebuild is planned for one base or component at a time; open each plan (impact and dry run, then run): {}.",
            format_html_join(", ", '<a href="{}">{}</a>', ((url, label) for label, url in plans))), messages.INFO)
    return None


class LifecycleReadOnly:
    """The lifecycle moves on the Catalog pages (curation.lifecycle: its rules and audit), not
    here: a new version or base starts as a draft or published; a saved one's is read-only."""

    LIFECYCLE_FIELDS = ["lifecycle", "replacement", "sunset_date"]

    def lifecycle_readonly_fields(self, obj) -> list[str]:
        return self.LIFECYCLE_FIELDS[1:] if obj is None else self.LIFECYCLE_FIELDS

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "lifecycle":
            kwargs["choices"] = [(Lifecycle.DRAFT, "Draft"), (Lifecycle.PUBLISHED, "Published")]
        return super().formfield_for_choice_field(db_field, request, **kwargs)


@admin.register(BaseImage)
class BaseImageAdmin(LifecycleReadOnly, AuditedAdmin, PlatformAdminOnly, admin.ModelAdmin):
    list_display = ["slug", "name", "repository", "tag", "os_family", "approved", "proposal_state", "lifecycle", "digest",
                    "recipe_count"]
    list_filter = ["approved", "proposal_state", "lifecycle", "os_family", "build_base"]
    readonly_fields = ["used_by", "source_build", "proposed_by", "reviewed_by", "reviewed_at"]
    actions = ["repin_and_rebuild", "approve_proposed", "reject_proposed"]

    # What a base points at comes from the registry, under the repository rules (curation.entries):
    # a new base is added on the Catalog page, a saved one re-pinned by the action or its page.
    REGISTRY_FIELDS = ["slug", "repository", "tag", "digest", "layer_digests"]

    def get_readonly_fields(self, request, obj=None):
        # A proposal is decided by the approve/reject actions (which check the image and pin it),
        # not by ticking "approved" or editing what it points at.
        fields = list(super().get_readonly_fields(request, obj)) + self.lifecycle_readonly_fields(obj)
        if obj is not None:
            fields += self.REGISTRY_FIELDS
        if obj is not None and obj.pending:
            fields += ["approved", "proposal_state"]
        return fields

    def add_view(self, request, form_url="", extra_context=None):
        self.message_user(request, "A base image is added on the Catalog page: it reads the digest and layers from the "
                                   "registry and checks the repository.", messages.INFO)
        return HttpResponseRedirect(reverse("catalog-base-new"))

    @admin.action(description="Approve the selected proposed base images (pinned by digest and layers)")
    def approve_proposed(self, request, queryset):
        self._review(request, queryset, base_approve, "approved")

    @admin.action(description="Reject the selected proposed base images")
    def reject_proposed(self, request, queryset):
        self._review(request, queryset, base_reject, "rejected")

    def _review(self, request, queryset, review, done):
        for base in queryset:
            try:
                review(user=request.user, base=base)
                self.message_user(request, f"{base.slug}: {done}.", messages.SUCCESS)
            except ProposalError as error:
                self.message_user(request, f"{base.slug}: {error}", messages.ERROR)

    @admin.display(description="Used by")
    def used_by(self, base):
        return _used_by(recipes_using_base(base), f"base:{base.slug}", reverse("catalog-base", args=[base.slug])) if base.pk else "-"

    @admin.display(description="Recipes")
    def recipe_count(self, base):
        return recipes_using_base(base).count()

    @admin.action(description="Pin to the registry's current digest, then plan a rebuild of every recipe using it")
    def repin_and_rebuild(self, request, queryset):
        pinned = []
        for base in queryset:
            try:
                base_repin(user=request.user, base=base)  # the Catalog page's re-pin: its rules and audit
            except EntryError as error:
                self.message_user(request, f"{base.slug}: {error}", messages.ERROR)
                continue
            pinned.append((base.name, {"subject": f"base:{base.slug}"}))
        return _plan(self, request, pinned)


class ComponentVersionInline(PlatformAdminOnly, admin.TabularInline):
    model = ComponentVersion
    extra = 0
    fields = ["version", "lifecycle", "os_families", "created"]
    # The lifecycle moves on the Catalog pages (curation.lifecycle: its rules and audit), not here.
    readonly_fields = ["version", "lifecycle", "os_families", "created"]
    show_change_link = True


class ComponentForm(forms.ModelForm):
    """Checked as on the Catalog page (curation.entries.component_check); the slug is kept once saved
    (versions name the components they need by it)."""

    class Meta:
        model = Component
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        existing = self.instance if self.instance.pk else None
        values = {name: cleaned.get(name, getattr(existing, name, "")) for name in ("slug", "name", "kind", "description")}
        problems = component_check(**values, order_weight=cleaned.get("order_weight"), existing=existing)
        for field, texts in problems.items():
            if field not in self.errors:
                self.add_error(field if field in self.fields else None, texts)
        return cleaned


@admin.register(Component)
class ComponentAdmin(AuditedAdmin, PlatformAdminOnly, admin.ModelAdmin):
    form = ComponentForm
    list_display = ["slug", "name", "kind", "order_weight"]
    list_filter = ["kind"]
    inlines = [ComponentVersionInline]
    actions = ["upgrade_and_rebuild"]

    def get_readonly_fields(self, request, obj=None):
        return ["used_by"] + (["slug"] if obj is not None else [])

    @admin.display(description="Used by")
    def used_by(self, component):
        return (_used_by(recipes_using_component(component), f"component:{component.slug}",
                        reverse("catalog-component", args=[component.slug])) if component.pk else "-")

    @admin.action(description="Plan moving every recipe to the latest published version and rebuilding it")
    def upgrade_and_rebuild(self, request, queryset):
        plannable = []
        for component in queryset:
            try:
                rebuild_subject(component=component.slug, upgrade=True)
            except RebuildError as error:
                self.message_user(request, f"{component.name}: {error}", messages.ERROR)
            else:
                plannable.append((component.name, {"subject": f"component:{component.slug}", "upgrade": "1"}))
        return _plan(self, request, plannable)


class ComponentVersionForm(forms.ModelForm):
    """A new version added here is checked as on the Catalog page (curation.versions.version_check:
    its schema, dependencies, and a sample recipe composed with it)."""

    class Meta:
        model = ComponentVersion
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and not self.errors and cleaned.get("component"):
            draft = ComponentVersion(**{name: cleaned.get(name) or ([] if name in self.LISTS else "") for name in self.CHECKED})
            draft.component = cleaned["component"]
            for field, problems in version_check(cleaned["component"], draft).items():
                self.add_error(field if field in self.fields else None, problems)
        return cleaned

    CHECKED = ("version", "os_families", "fragment", "final_fragment", "parameters", "requires", "conflicts")
    LISTS = {"os_families", "parameters", "requires", "conflicts"}


@admin.register(ComponentVersion)
class ComponentVersionAdmin(LifecycleReadOnly, AuditedAdmin, PlatformAdminOnly, admin.ModelAdmin):
    form = ComponentVersionForm
    list_display = ["component", "version", "lifecycle", "created"]
    list_filter = ["lifecycle", "component"]

    def get_readonly_fields(self, request, obj=None):
        # Immutable once saved, the lifecycle included (LifecycleReadOnly).
        if obj is None:
            return self.lifecycle_readonly_fields(obj)
        return [f.name for f in self.model._meta.fields]

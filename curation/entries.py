"""New catalog entries, made by platform admins without the Django admin: a component (its versions
then come from curation.versions), a base image read from the portal's registry, and a base re-pinned
to the digest its tag has in the registry now. Pages, API and the Django admin all come here.

A base is curated from the catalog's own area of the registry (what scripts/make-base-images.sh
pushes, e.g. base/busybox): never from quarantine (unchecked builds) nor from the published images
(those become bases through a proposal and its review, curation.proposals). It is pinned to the
digest and layer list the registry answers now, so the approved-base rule matches images built on
it by layer prefix, and created as a draft: teams see it once an admin publishes it
(curation.lifecycle.base_transition). Each refusal names the field to change (EntryError).
"""
import re

from django.conf import settings
from django.db import IntegrityError, transaction

from adapters.factory import registry_client
from adapters.registry import RegistryError
from adapters.registry_names import InvalidName, repository_check, tag_check
from catalog.models import BaseImage, Component, Lifecycle, ProposalState
from catalog.services import base_image_pin
from curation.lifecycle import catalog_curator_required
from curation.proposals import SLUG
from curation.versions import FAMILY
from portal.audit import audit_record

# The pages' own paths: /catalog/components/new and /catalog/bases/new.
RESERVED_SLUGS = {"new"}
NAME_MAX, DESCRIPTION_MAX, REPOSITORY_MAX = 100, 2000, 200
ORDER_WEIGHT_MIN, ORDER_WEIGHT_MAX = 0, 10000
RELEASE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,29}")
# A page waits for the registry at most this long (a stopped registry answers at once anyway).
REGISTRY_TIMEOUT_SECONDS = 15


class EntryError(ValueError):
    """The entry is refused; `errors` maps each form field to what is wrong with it."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(" ".join(m for messages in errors.values() for m in messages))
        self.errors = errors


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _slug_check(model, slug: str, noun: str, errors: dict) -> None:
    if not SLUG.fullmatch(slug):
        errors["slug"] = ["Give a slug of lower-case letters, digits and '-', starting with a letter or digit "
                          "(at most 50), e.g. jacoco-agent."]
    elif slug in RESERVED_SLUGS:
        errors["slug"] = [f"'{slug}' is the name of a page of the catalog: choose another slug."]
    elif model.objects.filter(slug=slug).exists():
        errors["slug"] = [f"There is already a {noun} {slug}: slugs are unique, choose another."]


def _saved(entry, noun: str):
    """`entry` saved, or refused by its slug when someone made one of that slug meanwhile."""
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        raise EntryError({"slug": [f"There is already a {noun} {entry.slug}."]})
    return entry


def _name_and_description_check(name: str, description: str, errors: dict) -> None:
    if not name or len(name) > NAME_MAX:
        errors["name"] = [f"Give a name of at most {NAME_MAX} characters, as teams will read it."]
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = [f"Keep the description to {DESCRIPTION_MAX} characters ({len(description)} given)."]


def _order_weight(value, errors: dict) -> int | None:
    try:
        if isinstance(value, bool) or isinstance(value, float):
            raise ValueError
        weight = int(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        weight = None
    if weight is None or not ORDER_WEIGHT_MIN <= weight <= ORDER_WEIGHT_MAX:
        errors["order_weight"] = [f"Give a whole number from {ORDER_WEIGHT_MIN} to {ORDER_WEIGHT_MAX} "
                                  "(lower comes first in the Dockerfile; the starter catalog uses 10 to 90)."]
        return None
    return weight


def component_check(*, slug, name, kind, description="", order_weight=100, existing: Component | None = None) -> dict:
    """What is wrong with these values of a new component (or of `existing`, whose slug is kept),
    by field (empty: nothing). The page, the API and the Django admin's form all ask here."""
    errors: dict[str, list[str]] = {}
    if existing is None:
        _slug_check(Component, _text(slug), "component", errors)
    _name_and_description_check(_text(name), _text(description), errors)
    if kind not in Component.Kind.values:
        errors["kind"] = ["Choose the kind: an environment option (a box to tick) or a marketplace service."]
    _order_weight(order_weight, errors)
    return errors


@transaction.atomic
def component_create(*, user, slug: str, name: str, kind: str, description: str = "",
                     order_weight: int | str = 100) -> Component:
    """A new component without versions: teams are offered it once a version of it is published."""
    catalog_curator_required(user)
    errors = component_check(slug=slug, name=name, kind=kind, description=description, order_weight=order_weight)
    if errors:
        raise EntryError(errors)
    component = _saved(Component(slug=slug.strip(), name=name.strip(), kind=kind, description=_text(description),
                                 order_weight=_order_weight(order_weight, {})), "component")
    audit_record(actor=user, action="catalog.component.created", target=component, component=component.slug,
                 kind=component.kind, order_weight=component.order_weight)
    return component


def base_repository_problem(repository: str) -> str:
    """Why `repository` cannot hold a curated base ("" when it can): the registry's own name rule,
    and neither quarantine nor the published images."""
    if not repository:
        return "Give the repository in the portal's registry, e.g. base/busybox."
    if len(repository) > REPOSITORY_MAX:
        return f"The repository is {len(repository)} characters long; at most {REPOSITORY_MAX} are allowed."
    try:
        repository_check(repository)
    except InvalidName:
        return (f"The repository {repository!r} is not a path of the portal's registry: lower-case letters and digits "
                "joined by '.', '_' or '-', parts separated by single '/', without the registry's host (e.g. base/busybox).")
    for prefix, why in ((settings.QUARANTINE_REPOSITORY_PREFIX, "holds builds nobody has checked yet"),
                        (settings.PUBLISHED_REPOSITORY_PREFIX, "holds the teams' published images: propose one from its "
                                                               "build page instead, and review the proposal")):
        prefix = prefix.strip("/")
        if repository == prefix or repository.startswith(prefix + "/"):
            return f"A base cannot come from {prefix}/, which {why}. Bases are curated under base/ (e.g. base/busybox)."
    return ""


def _registry_image(repository: str, tag: str) -> tuple[str, list[str]]:
    """The digest and layers the registry holds for repository:tag now (EntryError when it cannot say)."""
    client = registry_client("scanner", timeout=REGISTRY_TIMEOUT_SECONDS)
    try:
        manifest, digest = client.manifest(repository, tag)
    except RegistryError as error:
        if error.status != 404:
            raise EntryError({"registry": [f"The registry cannot be read, so nothing was saved: {error}. Try again "
                                           "when it answers."]})
        try:
            tags = client.tags(repository)
        except RegistryError:
            tags = []
        there = (f"Its tags: {', '.join(sorted(tags)[:20])}." if tags
                 else f"The registry has no repository {repository}.")
        raise EntryError({"tag": [f"The registry has no image {repository}:{tag}. {there}"]})
    finally:
        client.close()
    layers = [layer.get("digest") for layer in manifest.get("layers") or [] if isinstance(layer, dict)]
    if not layers or not all(isinstance(layer, str) for layer in layers):
        raise EntryError({"tag": [f"{repository}:{tag} is not a container image (its manifest lists no layers)."]})
    return digest, layers


def base_check(*, slug, name, repository, tag, os_family, os_release="", description="") -> dict:
    """What is wrong with these values of a new base before the registry is asked, by field."""
    errors: dict[str, list[str]] = {}
    _slug_check(BaseImage, _text(slug), "base image", errors)
    _name_and_description_check(_text(name), _text(description), errors)
    if problem := base_repository_problem(_text(repository)):
        errors["repository"] = [problem]
    try:
        tag_check(_text(tag))
    except InvalidName:
        errors["tag"] = ["Give the tag of the image in that repository (letters, digits, '.', '_' and '-', at most 128, "
                         "e.g. 1.35); the base is pinned to the digest it has now."]
    if not FAMILY.fullmatch(_text(os_family)):
        errors["os_family"] = ["Give the OS family in lower case (e.g. debian, busybox, alpine): component versions "
                               "name the families they build on."]
    if _text(os_release) and not RELEASE.fullmatch(_text(os_release)):
        errors["os_release"] = ["Give the release as letters, digits, '.', '+', '_' and '-' (at most 30, e.g. 12), "
                                "or leave it empty."]
    return errors


@transaction.atomic
def base_create(*, user, slug: str, name: str, repository: str, tag: str, os_family: str, os_release: str = "",
                description: str = "", build_base: bool = False) -> BaseImage:
    """A base image pinned to the digest and layers the registry holds for repository:tag now,
    approved and in draft: teams are offered it once it is published on its page."""
    catalog_curator_required(user)
    values = {"slug": _text(slug), "name": _text(name), "repository": _text(repository), "tag": _text(tag),
              "os_family": _text(os_family), "os_release": _text(os_release), "description": _text(description)}
    errors = base_check(**values)
    if errors:
        raise EntryError(errors)
    digest, layers = _registry_image(values["repository"], values["tag"])
    existing = BaseImage.objects.filter(digest=digest).exclude(proposal_state=ProposalState.REJECTED).first()
    if existing is not None:
        raise EntryError({"tag": [f"{values['repository']}:{values['tag']} is the image of the base {existing.name} "
                                  f"({existing.slug}) already ({digest}): a base is there once."]})
    base = _saved(BaseImage(**values, digest=digest, layer_digests=layers, approved=True, lifecycle=Lifecycle.DRAFT,
                            build_base=bool(build_base)), "base image")
    audit_record(actor=user, action="catalog.baseimage.created", target=base, base=base.slug,
                 reference=f"{base.repository}:{base.tag}@{digest}", layers=len(layers), lifecycle=base.lifecycle,
                 build_base=base.build_base)
    return base


def base_repin_problem(base: BaseImage) -> str:
    """Why `base` may not be re-pinned ("" when it may)."""
    if base.pending:
        return f"{base.name} is a proposal waiting for review: it is pinned when it is approved."
    if base.lifecycle == Lifecycle.RETIRED:
        return f"{base.name} is retired: nothing builds on it any more, so there is nothing to re-pin."
    return ""


def base_registry_digest(base: BaseImage) -> str:
    """The digest the registry holds for the base's tag now (EntryError when it cannot say)."""
    return _registry_image(base.repository, base.tag)[0]


@transaction.atomic
def base_repin(*, user, base: BaseImage) -> BaseImage:
    """Pin `base` to the digest and layers its tag has in the registry now (catalog.services.base_image_pin),
    audited with the digest before and after. Rebuilding the recipes on it is planned afterwards."""
    catalog_curator_required(user)
    base = BaseImage.objects.select_for_update().get(pk=base.pk)
    if problem := base_repin_problem(base):
        raise EntryError({"base": [problem]})
    before = base.digest
    client = registry_client("scanner", timeout=REGISTRY_TIMEOUT_SECONDS)
    try:
        base_image_pin(base=base, client=client)
    except RegistryError as error:
        raise EntryError({"base": [f"{base.name} is not re-pinned: the registry answered {error}."]})
    finally:
        client.close()
    audit_record(actor=user, action="catalog.baseimage.pinned", target=base, before=before, digest=base.digest)
    return base

"""A new version of a catalog component, created by a platform admin as a draft (then published
through curation.lifecycle). Versions are immutable once saved, so everything is checked here,
before: the version string, its uniqueness, the OS families, the dependencies, the parameter schema
(catalog.parameters.spec_check: the shape the composer reads) and the fragments
(catalog.fragments.fragment_check); and then the draft is composed once, by the composer itself,
into a sample recipe on a base of each of its OS families, to prove it composes. Audited.
"""
import datetime
import json
import re
from dataclasses import replace
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from django.db import IntegrityError, transaction

from builds.compose.composer import Artifact, RecipeSnapshot, compose
from builds.compose.shared_layers import shared_packages_for
from builds.compose.snapshot import base_reference, version_as_choice
from builds.errors import CompositionError
from catalog.fragments import FragmentError, fragment_check
from catalog.models import USABLE_LIFECYCLES, Component, ComponentVersion, Lifecycle
from catalog.selectors import selectable_bases
from curation.lifecycle import catalog_curator_required
from portal.audit import audit_record

VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,49}")
SLUG_LIST = re.compile(r"[a-z0-9][a-z0-9-]*")
FAMILY = re.compile(r"[a-z][a-z0-9._-]{0,29}")


class VersionError(ValueError):
    """The new version is refused; `errors` maps each form field to what is wrong with it."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(" ".join(m for messages in errors.values() for m in messages))
        self.errors = errors


def parameters_parse(text: str) -> list:
    """The parameter schema as an admin types it: a JSON list of parameter objects ("" is none)."""
    if not (text or "").strip():
        return []
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise VersionError({"parameters": [f"The parameters are not valid JSON: {error.msg} (line {error.lineno}, "
                                           f"column {error.colno})."]})
    if not isinstance(parsed, list):
        raise VersionError({"parameters": ['The parameters are a JSON list of objects, e.g. '
                                           '[{"name": "port", "type": "port", "label": "Port", "default": "8080"}].']})
    return parsed


def next_version(version: str) -> str:
    """A suggestion for the version after `version`: its last number plus one ("0.8.12" -> "0.8.13")."""
    found = list(re.finditer(r"\d+", version))
    if not found:
        return ""
    last = found[-1]
    return version[:last.start()] + str(int(last.group()) + 1) + version[last.end():]


@lru_cache(maxsize=1)
def _sample_certificate() -> str:
    """A throwaway self-signed certificate, the sample value of a `pem` parameter without a default."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portal sample composition")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                   .sign(key, hashes.SHA256()))
    return certificate.public_bytes(Encoding.PEM).decode()


def _sample_values(specs: list[dict]) -> tuple[list[dict], dict]:
    """Values a sample recipe sets: each default, else a value of the parameter's type. A `string`
    without a default is composed as text "sample" (its pattern is the user's business, not the
    fragment's)."""
    specs, values = [dict(spec) for spec in specs], {}
    for spec in specs:
        if spec.get("default") not in (None, ""):
            values[spec["name"]] = spec["default"]
            continue
        kind, low, high = spec["type"], spec.get("min"), spec.get("max")
        if kind == "string":
            spec["type"] = "text"
        if kind == "pem":
            values[spec["name"]] = _sample_certificate()
        elif kind in ("integer", "port"):
            default_low = 1024 if kind == "port" else 0
            values[spec["name"]] = str(low if low is not None else min(default_low, high) if high is not None else default_low)
        else:
            values[spec["name"]] = {"timezone": "UTC", "choice": (spec.get("choices") or [""])[0]}.get(kind, "sample")
    return specs, values


def _required_versions(requires: list[str], errors: dict) -> list[ComponentVersion]:
    """The usable version of each component needed, and of what those need in turn."""
    found, pending, seen = [], list(requires), set()
    while pending:
        slug = pending.pop()
        if slug in seen:
            continue
        seen.add(slug)
        version = (ComponentVersion.objects.filter(component__slug=slug, lifecycle__in=USABLE_LIFECYCLES)
                   .select_related("component").order_by("-created").first())
        if version is None:
            errors.setdefault("requires", []).append(f"{slug} has no published version, so nothing needing it can be built.")
            continue
        found.append(version)
        pending += version.requires
    return found


def _compose_sample(draft: ComponentVersion, errors: dict) -> None:
    """Compose the draft, with what it requires, on a base of each of its OS families."""
    needed = _required_versions(draft.requires, errors)
    if errors:
        return
    for family in draft.os_families:
        base = selectable_bases().filter(os_family=family).first()
        if base is None:
            continue
        choices = []
        for version in [draft, *needed]:
            specs, values = _sample_values(version.parameters)
            choices.append(replace(version_as_choice(version, values), parameters=tuple(specs)))
        snapshot = RecipeSnapshot(base_reference=base_reference(base), base_os_family=family, components=tuple(choices),
                                  artifact=Artifact("app.jar", "0" * 64), shared_packages=shared_packages_for(base))
        try:
            compose(snapshot)
        except CompositionError as error:
            details = "; ".join(f"{field}: {message}" for field, message in error.errors.items())
            errors.setdefault("fragment", []).append(
                f"Composed into a sample recipe on {base.name}, it does not compose: {error}" + (f" ({details})" if details else ""))


def _slugs(field: str, slugs, component: Component, errors: dict) -> list[str]:
    slugs = [s for s in (slugs or []) if s]
    bad = [s for s in slugs if not isinstance(s, str) or not SLUG_LIST.fullmatch(s)]
    known = set(Component.objects.filter(slug__in=[s for s in slugs if s not in bad]).values_list("slug", flat=True))
    unknown = [s for s in slugs if s not in bad and s not in known]
    if bad or unknown:
        errors.setdefault(field, []).append(f"Not a component of the catalog: {', '.join(map(str, bad + unknown))}.")
    if component.slug in slugs:
        errors.setdefault(field, []).append(f"{component.name} cannot name itself.")
    return list(dict.fromkeys(slugs))


def version_check(component: Component, draft: ComponentVersion) -> dict[str, list[str]]:
    """What is wrong with the unsaved `draft` of a new version, by field (empty: nothing). The page
    and the Django admin's add form both ask here."""
    errors: dict[str, list[str]] = {field: ["Give a list (JSON [...])."] for field in ("os_families", "parameters", "requires",
                                                                                 "conflicts")
                                    if not isinstance(getattr(draft, field), list)}
    if errors:
        return errors
    if not VERSION.fullmatch(draft.version):
        errors["version"] = ["Give a version of letters, digits, '.', '+', '_' and '-', starting with a letter or digit "
                             "(at most 50), e.g. 2 or 0.8.13."]
    elif component.versions.filter(version=draft.version).exists():
        errors["version"] = [f"{component.name} already has a version {draft.version}: versions never change, give a new one."]
    families = set(selectable_bases().values_list("os_family", flat=True))
    if not draft.os_families:
        errors["os_families"] = ["Tick at least one OS family the version builds on."]
    elif bad := [f for f in draft.os_families if not isinstance(f, str) or not FAMILY.fullmatch(f)]:
        errors["os_families"] = [f"Not an OS family name: {', '.join(map(repr, bad))}."]
    elif not families & set(draft.os_families):
        # A family with no base yet is allowed (a base may come later), but one must have a base to compose on.
        errors["os_families"] = [f"No approved base image is of the family {', '.join(draft.os_families)}, so the "
                                 f"version cannot be composed to check it: include one of {', '.join(sorted(families))}."]
    draft.requires = _slugs("requires", draft.requires, component, errors)
    draft.conflicts = _slugs("conflicts", draft.conflicts, component, errors)
    if both := set(draft.requires) & set(draft.conflicts):
        errors.setdefault("conflicts", []).append(f"A version cannot both need and conflict with {', '.join(sorted(both))}.")
    names = [spec.get("name") for spec in draft.parameters if isinstance(spec, dict)]
    if twice := sorted({n for n in names if names.count(n) > 1}):
        errors["parameters"] = [f"Each parameter name once: {', '.join(map(str, twice))} is given twice."]
    if not draft.fragment.strip() and not draft.final_fragment.strip():
        errors["fragment"] = ["Give the Dockerfile lines the version adds."]
    try:
        fragment_check(draft.fragment + "\n" + draft.final_fragment, draft.parameters)
    except FragmentError as error:
        field = "parameters" if str(error).startswith(("parameter", "each parameter")) else "fragment"
        errors.setdefault(field, []).append(str(error)[0].upper() + str(error)[1:] + ".")
    if not errors:
        _compose_sample(draft, errors)
    return errors


def _listed(value):
    """A tuple is a list here; anything else (a text, an object) is left for version_check to refuse."""
    return list(value) if isinstance(value, tuple) else ([] if value is None else value)


@transaction.atomic
def version_create(*, user, component: Component, version: str, os_families: list[str], fragment: str,
                   final_fragment: str = "", parameters: list, requires: list[str] = (),
                   conflicts: list[str] = ()) -> ComponentVersion:
    """A new draft version of `component` (VersionError says what to change)."""
    catalog_curator_required(user)
    draft = ComponentVersion(component=component, version=(version or "").strip(), os_families=_listed(os_families),
                             fragment=(fragment or "").strip(), final_fragment=(final_fragment or "").strip(),
                             parameters=_listed(parameters), requires=_listed(requires), conflicts=_listed(conflicts),
                             lifecycle=Lifecycle.DRAFT)
    errors = version_check(component, draft)
    if errors:
        raise VersionError(errors)
    try:
        with transaction.atomic():
            draft.save()
    except IntegrityError:  # created by someone else meanwhile
        raise VersionError({"version": [f"{component.name} already has a version {draft.version}."]})
    audit_record(actor=user, action="catalog.version.created", target=draft, component=component.slug,
                 version=draft.version, lifecycle=draft.lifecycle, os_families=draft.os_families,
                 parameters=[spec["name"] for spec in draft.parameters], requires=draft.requires)
    return draft


def version_prefill(component: Component) -> dict:
    """The form's first values: the newest version's, with the next version number."""
    latest = component.versions.exclude(lifecycle=Lifecycle.RETIRED).first() or component.versions.first()
    if latest is None:
        return {"version": "1", "os_families": [], "fragment": "", "final_fragment": "", "parameters": "[]",
                "requires": "", "conflicts": ""}
    return {"version": next_version(latest.version), "os_families": list(latest.os_families), "fragment": latest.fragment,
            "final_fragment": latest.final_fragment, "parameters": json.dumps(latest.parameters, indent=2),
            "requires": ", ".join(latest.requires), "conflicts": ", ".join(latest.conflicts), "from": latest}


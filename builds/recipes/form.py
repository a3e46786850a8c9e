"""Read the recipe builder form (HTML or API) into catalog objects, with per-field errors."""
import re
from dataclasses import dataclass, field

from adapters.registry_names import InvalidName, registry_name_check
from builds.recipes.runtime import CapabilityError, capabilities_clean
from catalog.models import BaseImage
from catalog.selectors import catalog_components, known_bases
from portal.rbac import teams_of


def image_name_error(name: str) -> str:
    """The form's message for an image name that breaks the name rule ("" when it is fine)."""
    if not name:
        return "Give the image a name, e.g. pay-api."
    try:
        registry_name_check(name, what="image name")
    except InvalidName as error:
        return str(error)
    return ""


@dataclass
class BuilderInput:
    team: object = None
    name: str = ""
    base: BaseImage | None = None
    choices: list = field(default_factory=list)  # [(ComponentVersion, values)]
    errors: dict = field(default_factory=dict)
    selected: set = field(default_factory=set)
    runtime: dict = field(default_factory=lambda: {"privileged": False, "cap_add": []})


def builder_parse(*, user, data, components=None) -> BuilderInput:
    """Parse `team`, `name`, `base`, `component` (repeated slug), `version-<slug>`, `param-<slug>-<name>`."""
    parsed = BuilderInput(name=(data.get("name") or "").strip())
    teams = {t.slug: t for t in teams_of(user)}
    parsed.team = teams.get(data.get("team") or "") or (next(iter(teams.values())) if len(teams) == 1 else None)
    if parsed.team is None:
        parsed.errors["team"] = "Choose one of your teams." if teams else "You are not in any team yet; ask a platform admin."
    if name_error := image_name_error(parsed.name):
        parsed.errors["name"] = name_error
    # The builder offers published bases; a deprecated one named (an edit keeps the recipe's) still
    # builds, with a warning; a retired one is refused by the composer with its reason.
    parsed.base = known_bases().filter(slug=data.get("base") or "").first()
    if parsed.base is None:
        parsed.errors["base"] = "Choose an approved base image."
    parsed.selected = set(data.getlist("component") if hasattr(data, "getlist") else data.get("component", []))
    for component in components if components is not None else catalog_components():
        if component.slug not in parsed.selected:
            continue
        # A version named (an edit keeps the recipe's) is taken as named, so a retired one is refused by
        # the composer with its reason rather than silently swapped; none named: the latest published.
        versions = {v.version: v for v in component.known_versions}
        version = versions.get(data.get(f"version-{component.slug}") or "") or (component.published_versions or [None])[0]
        if version is None:
            parsed.errors[component.slug] = f"{component.name} has no published version."
            continue
        values = {spec["name"]: data.get(f"param-{component.slug}-{spec['name']}") for spec in version.parameters}
        parsed.choices.append((version, {k: v for k, v in values.items() if v is not None}))
    parsed.runtime = runtime_parse(data, parsed.errors)
    unknown = parsed.selected - {c.slug for c in (components if components is not None else catalog_components())}
    if unknown:
        parsed.errors["component"] = f"Unknown components: {', '.join(sorted(unknown))}."
    return parsed


def runtime_parse(data, errors: dict) -> dict:
    """`privileged` (a ticked checkbox) and `cap_add` (names separated by commas or spaces)."""
    raw = data.get("cap_add") or ""
    names = [n for n in (raw if isinstance(raw, list) else re.split(r"[\s,]+", raw)) if n]
    try:
        cap_add = capabilities_clean(names)
    except CapabilityError as error:
        errors["cap_add"], cap_add = str(error), []
    return {"privileged": (data.get("privileged") or "") in ("1", "on", "true"), "cap_add": cap_add}

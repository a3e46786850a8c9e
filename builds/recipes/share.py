"""A link to a builder configuration: the base, the ticked components with their parameters, and how
the image runs, as GET parameters of /images/new, so a team member opens the builder with them.

A link is input like any form: what it carries is checked on the way in against the catalog and the
parameters' own validation, and what is unknown (a base, a component, a version, a parameter) or
not valid is left out with a notice, never an error page. What remains still goes through the
composer in the preview and on saving, as typed values do; nothing from a URL reaches a Dockerfile
another way. Team, name and artifact are not part of a link: whoever opens it chooses their own.
"""
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.http import QueryDict

from builds.recipes.form import BuilderInput, image_name_error
from builds.recipes.runtime import CapabilityError, capabilities_clean
from catalog.models import Lifecycle
from catalog.parameters import ParameterError, parameter_clean

# Web servers refuse long request lines (gunicorn: 4094 bytes); links stay well under that, and a
# certificate bundle, which is kilobytes, stays out of them.
MAX_SHARED_QUERY = 2000
NOT_IN_LINKS = {"pem"}


@dataclass
class SharedLink:
    query: str
    left_out: list[str] = field(default_factory=list)  # labels of values a link cannot carry


def share_link(parsed: BuilderInput) -> SharedLink:
    """The query string of a link to the parsed configuration (its parameters' clean values; those
    not valid are left out, as the link's reader would leave them out)."""
    params: list[tuple[str, str]] = [("base", parsed.base.slug)] if parsed.base else []
    # No component at all is said explicitly: without it, the builder ticks its non-root default.
    params += [("component", version.component.slug) for version, _ in parsed.choices] or [("component", "")]
    # Each version as chosen: a link without them would open on the latest published versions, which
    # is another configuration (and editing it would move the recipe on unasked).
    params += [(f"version-{version.component.slug}", version.version) for version, _ in parsed.choices]
    values, left_out = [], []
    for version, given in parsed.choices:
        for spec in version.parameters:
            label = f"{version.component.name} · {spec.get('label', spec['name'])}"
            value = _clean(spec, given.get(spec["name"]))
            if value is None or value == "":
                continue
            if spec["type"] in NOT_IN_LINKS:
                left_out.append(label)
            else:
                values.append((len(value), label, (f"param-{version.component.slug}-{spec['name']}", value)))
    params += [("privileged", "1")] if parsed.runtime.get("privileged") else []
    params += [("cap_add", ",".join(parsed.runtime["cap_add"]))] if parsed.runtime.get("cap_add") else []
    kept = [value for _, _, value in values]
    for length, label, value in sorted(values, key=lambda v: v[0], reverse=True):  # the longest go first
        if len(urlencode(params + kept)) <= MAX_SHARED_QUERY:
            break
        kept.remove(value)
        left_out.append(label)
    return SharedLink(urlencode(params + [v for _, _, v in values if v in kept]), left_out)


def _clean(spec: dict, raw) -> str | None:
    if raw is None:
        return None
    try:
        return parameter_clean(spec, raw)
    except ParameterError:
        return None


def prefill_from_link(*, user_teams, query: QueryDict, components, bases) -> tuple[QueryDict, list[str]]:
    """The builder's values from a link's `query`, each checked against the catalog, and a notice for
    each thing left out (worded without the link's own text, which anyone could have written)."""
    values, notices = QueryDict(mutable=True), []
    if "base" in query:
        if query.get("base") in {b.slug for b in bases}:
            values["base"] = query["base"]
        else:
            notices.append("The link's base image is not one you can choose (unknown, not approved or withdrawn); "
                           "the first approved base is selected instead.")
    offered = {c.slug: c for c in components if c.published_versions}
    ticked = []
    if "component" in query:
        asked = [slug for slug in query.getlist("component") if slug]
        ticked = [offered[slug] for slug in dict.fromkeys(asked) if slug in offered]
        values.setlist("component", [c.slug for c in ticked] or [""])
        if unknown := len({slug for slug in asked if slug not in offered}):
            notices.append(f"{unknown} of the link's components {'is' if unknown == 1 else 'are'} not in the catalog; "
                           "left out.")
    chosen, version_notices = _versions(query, ticked)
    for component, version in chosen.items():
        values[f"version-{component.slug}"] = version.version
    notices += version_notices
    notices += _parameters(query, chosen, values)
    notices += _team_and_name(query, user_teams, values)
    notices += _runtime(query, values)
    return values, notices


def _versions(query: QueryDict, ticked) -> tuple[dict, list[str]]:
    """The version of each ticked component: the one the link names if the builder offers it (a
    published one, or a deprecated one, which still builds with a warning in the preview), else the
    latest published version, with a notice."""
    notices = []
    chosen = {component: component.published_versions[0] for component in ticked}
    for key in (k for k in query if k.startswith("version-")):
        component = next((c for c in ticked if key == f"version-{c.slug}"), None)
        if component is None:
            notices.append("The link names a version of a component it does not tick; left out.")
            continue
        named = next((v for v in component.known_versions if v.version == query.get(key)), None)
        if named is not None and named.lifecycle in (Lifecycle.PUBLISHED, Lifecycle.DEPRECATED):
            chosen[component] = named
        else:
            notices.append(f"The link names a version of {component.name} the builder does not offer; "
                           f"its latest published version, {component.published_versions[0].version}, is used.")
    return chosen, notices


def _parameters(query: QueryDict, chosen: dict, values: QueryDict) -> list[str]:
    specs = {f"param-{c.slug}-{spec['name']}": (c, spec) for c, version in chosen.items() for spec in version.parameters}
    notices, unknown = [], 0
    for key in (k for k in query if k.startswith("param-")):
        if key not in specs:
            unknown += 1
            continue
        component, spec = specs[key]
        value = _clean(spec, query.get(key))
        if value is None:
            notices.append(f"{component.name} · {spec.get('label', spec['name'])}: the link's value is not valid, "
                           "so the default is used.")
        else:
            values[key] = value
    if unknown:
        notices.append(f"{unknown} of the link's parameters {'is' if unknown == 1 else 'are'} not a parameter of a "
                       "ticked component; left out.")
    return notices


def _team_and_name(query: QueryDict, user_teams, values: QueryDict) -> list[str]:
    notices = []
    if "team" in query:
        if query.get("team") in {t.slug for t in user_teams}:
            values["team"] = query["team"]
        else:
            notices.append("The link names a team you are not in; choose one of yours.")
    if query.get("name"):
        if image_name_error(query["name"]):
            notices.append("The link's image name is not a valid name; give your own.")
        else:
            values["name"] = query["name"]
    return notices


def _runtime(query: QueryDict, values: QueryDict) -> list[str]:
    if query.get("privileged") in ("1", "on", "true"):
        values["privileged"] = "1"
    if query.get("cap_add"):
        try:
            values["cap_add"] = ", ".join(capabilities_clean([n for n in query["cap_add"].replace(",", " ").split() if n]))
        except CapabilityError:
            return ["The link's extra capabilities are not Linux capabilities; left out."]
    return []

"""Shared team scripts: a team keeps one checked copy of a `.paas` script that several recipes use.

Every save runs the same checks as an uploaded package's scripts (builds.team_scripts.checks); an error
refuses the save with the findings, so no recipe can pick up a script that would block its build.
Saving a new text adds a version; versions are never edited.
"""
import hashlib
import re
from dataclasses import asdict

from django.conf import settings
from django.db import transaction

from builds.models import Recipe, TeamScript, TeamScriptVersion
from builds.team_scripts.checks import script_check
from builds.team_scripts.packages import recipe_package_scripts
from portal.audit import audit_record
from portal.rbac import require_team_member

SCRIPT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")


class TeamScriptRefused(ValueError):
    """The script was not saved; the message says why, `errors` per field, `findings` the check errors."""

    def __init__(self, message: str, errors: dict | None = None, findings: list[dict] | None = None):
        super().__init__(message)
        self.errors = errors or {}
        self.findings = findings or []


def team_script_findings(kind: str, text: str) -> list[dict]:
    name = f".paas/{kind}.sh"
    return [asdict(f) for f in script_check(name, text.encode(), allowed_hosts=set(settings.SCRIPT_ALLOWED_HOSTS))]


@transaction.atomic
def team_script_save(*, user, team, name: str, kind: str, text: str, note: str = "") -> TeamScriptVersion:
    """Create the script or add a version of it. The same text as the latest version adds nothing."""
    require_team_member(user, team)
    if not SCRIPT_NAME.fullmatch(name or ""):
        raise TeamScriptRefused("Use lower-case letters, digits and '-' for the name (at most 60).", {"name": "invalid"})
    if kind not in TeamScript.Kind.values:
        raise TeamScriptRefused(f"Kind must be one of {', '.join(TeamScript.Kind.values)}.", {"kind": "invalid"})
    findings = team_script_findings(kind, text)
    errors = [f for f in findings if f["severity"] == "error"]
    if errors:
        shown = "; ".join(f"line {f['line']}: {f['message']}" for f in errors[:5])
        raise TeamScriptRefused(f"The script was not saved: {len(errors)} check error(s): {shown}", {"text": "check errors"}, errors)
    script = TeamScript.objects.select_for_update().filter(team=team, name=name).first()
    if script is None:
        script = TeamScript.objects.create(team=team, name=name, kind=kind, created_by=user)
    elif script.kind != kind:
        raise TeamScriptRefused(f"{script} is a {script.get_kind_display()} script.", {"kind": "differs"})
    sha256 = hashlib.sha256(text.encode()).hexdigest()
    latest = script.latest
    if latest is not None and latest.sha256 == sha256:
        return latest
    version = TeamScriptVersion.objects.create(script=script, number=(latest.number + 1) if latest else 1, text=text,
                                               sha256=sha256, findings=findings, note=note[:200], created_by=user)
    audit_record(actor=user, action="team_script.saved", target=version, team=team, script=str(script),
                 version=version.number, sha256=sha256)
    return version


@transaction.atomic
def team_script_promote(*, user, recipe: Recipe, kind: str, name: str) -> TeamScriptVersion:
    """Make the recipe's package script a shared team script, and have the recipe use it."""
    require_team_member(user, recipe.team)
    text = recipe_package_scripts(recipe)[0].get(kind)
    if text is None:
        raise TeamScriptRefused(f"The package of {recipe} has no .paas/{kind}.sh to promote.", {"kind": "missing"})
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        raise TeamScriptRefused(f".paas/{kind}.sh is not valid UTF-8 text.", {"text": "not text"})
    version = team_script_save(user=user, team=recipe.team, name=name, kind=kind, text=decoded,
                               note=f"promoted from recipe {recipe.name}")
    field = "shared_build_script" if kind == TeamScript.Kind.BUILD_ENV else "shared_image_script"
    setattr(recipe, field, version.script)
    recipe.save(update_fields=[field, "updated"])
    audit_record(actor=user, action="team_script.promoted", target=recipe, team=recipe.team, script=str(version.script),
                 version=version.number)
    return version

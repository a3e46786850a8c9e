"""The privilege rules: they read what the built image contains, not what the Dockerfile says, since
a script can assemble `chmod` from variables and no text check would see it. Pure.

- no-setuid-files, no-file-capabilities, no-world-writable: special files (see
  compliance/sbom/special.py) in layers ABOVE the approved base: the base's own (Debian's su,
  passwd, mount) were approved with it.
- no-root-accounts: passwd and group entries with uid or gid 0 other than root, members of group
  0, and uid-0 accounts that can be logged into (no password, or a hash shipped in the image):
  with any setuid `su` in the image (Debian's base has one) those are root for anyone.
- non-root-group: the runtime user's primary group, resolved through the image's own passwd and
  group files as the engine does (`USER 10001` without a passwd entry runs with gid 0), and its
  supplementary groups.
- no-onbuild: ONBUILD triggers in the image config, whatever door the image came through.

Each failure names the path (or entry), its mode, the layer and, where the build's record lets
us tell, the Dockerfile line or the .paas/image-env.sh stage that made that layer.

A scan stored before these facts were read (`facts.privileges` None) cannot tell: the rules that
need them fail closed and say to build again, rather than pass an image nobody checked.
"""
from __future__ import annotations

from typing import Any

from compliance.policy.params import KIND_TITLES
from compliance.policy.provenance import LayerOrigins
from compliance.policy.rules import RuleResult
from compliance.sbom.accounts import runtime_user
from compliance.sbom.models import ImageFacts, Privileges, SpecialFile
from compliance.sbom.special import is_system_path

SHOWN = 3  # entries named in a message; the evidence keeps up to EVIDENCE
EVIDENCE = 50


def _result(rule: str, status: str, message: str, evidence: dict[str, Any]) -> RuleResult:
    return RuleResult(rule, KIND_TITLES[rule], status, message, evidence)


def _not_read(rule: str, facts: ImageFacts) -> RuleResult | None:
    if facts.privileges is not None:
        return None
    return _result(rule, "fail", "Not checked: this image was scanned before the portal read accounts, groups and "
                   "special files from the layers. Build it again for a fresh scan.", {"rescan_needed": True})


def _listing(items: list[str]) -> str:
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return "; ".join(items[:SHOWN]) + more


def _kind(entry: SpecialFile) -> str:
    return {"dir": "directory", "hardlink": "hard link", "other": "special file"}.get(entry.type, "file")


def _file_evidence(entry: SpecialFile, origins: LayerOrigins) -> dict[str, Any]:
    evidence = {"path": "/" + entry.path, "type": entry.type, "mode": f"{entry.mode:04o}",
                "owner": f"{entry.uid}:{entry.gid}", "layer": entry.layer_index,
                "added_by": origins.describe(entry.layer_index)}
    if entry.capabilities:
        evidence["capabilities"] = entry.capabilities
    return evidence


def _file_rule(rule: str, facts: ImageFacts, base_layers: int, origins: LayerOrigins, *, select,
               what: tuple[str, str], describe, advice: str) -> RuleResult:
    """`what`: how one and several of the files are called."""
    unread = _not_read(rule, facts)
    if unread is not None:
        return unread
    privileges: Privileges = facts.privileges
    found = [f for f in privileges.special_files if f.layer_index >= base_layers and select(f)]
    evidence: dict[str, Any] = {"files": [_file_evidence(f, origins) for f in found[:EVIDENCE]], "count": len(found),
                                "base_layers": base_layers}
    if found:
        shown = [f"/{f.path} ({describe(f)}, {_kind(f)}, owner {f.uid}:{f.gid}, {origins.describe(f.layer_index)})"
                 for f in found]
        return _result(rule, "fail", f"{len(found)} {what[len(found) > 1]} added above the approved base: "
                       f"{_listing(shown)}. {advice}", evidence)
    # The kept list holds the highest layers first: it is complete above the base when it reaches into the base.
    if privileges.special_files_truncated and all(f.layer_index >= base_layers for f in privileges.special_files):
        evidence["truncated_scan"] = True
        return _result(rule, "fail", "Not fully checked: the image has more special files above its base than the "
                       "scan keeps. Remove the setuid, capability and world-writable changes from the build.", evidence)
    return _result(rule, "pass", f"No {what[1]} above the approved base ({base_layers} base "
                   f"layer{'s' if base_layers != 1 else ''}).", evidence)


def rule_no_setuid_files(facts: ImageFacts, *, base_layers: int, origins: LayerOrigins) -> RuleResult:
    def describe(f: SpecialFile) -> str:
        bits = " and ".join(b for b, on in (("setuid", f.setuid), ("setgid", f.setgid)) if on)
        return f"{bits}, mode {f.mode:04o}"

    return _file_rule(
        "no-setuid-files", facts, base_layers, origins, select=lambda f: f.setuid or f.setgid,
        what=("setuid or setgid file", "setuid or setgid files"), describe=describe,
        advice="Whoever runs them gets their owner's (for uid 0: root's) rights, whatever the image's USER. "
               "Remove the bits (chmod u-s,g-s) in the step that sets them.")


def rule_no_file_capabilities(facts: ImageFacts, *, base_layers: int, origins: LayerOrigins) -> RuleResult:
    return _file_rule(
        "no-file-capabilities", facts, base_layers, origins, select=lambda f: bool(f.capabilities),
        what=("file with capabilities", "files with capabilities"), describe=lambda f: f"{f.capabilities}, mode {f.mode:04o}",
        advice="Every user who runs them gets those capabilities. Remove them (setcap -r) and ask for the "
               "capability in the recipe's runtime settings instead, where the policy checks it.")


def rule_no_world_writable(facts: ImageFacts, *, base_layers: int, origins: LayerOrigins) -> RuleResult:
    return _file_rule(
        "no-world-writable", facts, base_layers, origins,
        select=lambda f: f.world_writable and is_system_path(f.path),
        what=("world-writable entry under a system path", "world-writable entries under system paths"), describe=lambda f: f"mode {f.mode:04o}",
        advice="Any user could replace programs, libraries or configuration that root runs or reads. "
               "Remove write access for others (chmod o-w); keep writable data under /tmp, /var or /app.")


def rule_no_root_accounts(facts: ImageFacts, *, origins: LayerOrigins) -> RuleResult:
    rule = "no-root-accounts"
    unread = _not_read(rule, facts)
    if unread is not None:
        return unread
    privileges: Privileges = facts.privileges
    problems: list[dict[str, Any]] = []

    def problem(kind: str, name: str, text: str, layer: int | None) -> None:
        problems.append({"problem": kind, "entry": name, "text": text, "layer": layer, "added_by": origins.describe(layer)})

    for account in privileges.accounts:
        if account.name != "root" and account.uid == 0:
            problem("uid-0", account.name, f"user '{account.name}' has uid 0 in /etc/passwd", account.layer_index)
        elif account.name != "root" and account.gid == 0:
            problem("gid-0", account.name, f"user '{account.name}' has primary group 0 in /etc/passwd", account.layer_index)
        if account.uid == 0 and account.password in ("none", "set"):
            text = (f"uid-0 user '{account.name}' has no password: su gives root to anyone" if account.password == "none"
                    else f"uid-0 user '{account.name}' has a password hash in the image")
            layer = privileges.shadow_layer_index if account.password_in_shadow else account.layer_index
            problem(f"root-password-{account.password}", account.name, text, layer)
    for group in privileges.groups:
        if group.gid == 0 and group.name != "root":
            problem("group-gid-0", group.name, f"group '{group.name}' has gid 0 in /etc/group", group.layer_index)
        if group.gid == 0 and group.members:
            problem("root-group-member", group.name, f"group '{group.name}' (gid 0) lists {', '.join(group.members)}",
                    group.layer_index)
    evidence = {"problems": problems[:EVIDENCE], "accounts": len(privileges.accounts), "groups": len(privileges.groups)}
    if problems:
        shown = [f"{p['text']} ({p['added_by']})" for p in problems]
        return _result(rule, "fail", f"{len(problems)} privileged account problem{'s' if len(problems) > 1 else ''}: "
                       f"{_listing(shown)}. Only root may have uid or gid 0, and root must stay locked; "
                       "give other accounts their own ids.", evidence)
    return _result(rule, "pass", f"Only root has uid or gid 0, and it cannot be logged into "
                   f"({len(privileges.accounts)} accounts, {len(privileges.groups)} groups).", evidence)


def rule_non_root_group(facts: ImageFacts) -> RuleResult:
    rule = "non-root-group"
    unread = _not_read(rule, facts)
    if unread is not None:
        return unread
    privileges: Privileges = facts.privileges
    spec = str((facts.config.get("config") or {}).get("User") or "").strip()
    user = runtime_user(spec, privileges.accounts, privileges.groups)
    evidence: dict[str, Any] = {"user": spec, "uid": user.uid, "gid": user.gid, "name": user.name,
                                "supplementary_gids": list(user.supplementary)}
    if user.problem:
        return _result(rule, "fail", f"Cannot start: USER is '{spec}' but {user.problem}.", evidence)
    if user.gid == 0:
        if ":" in spec:
            why = f"it names group '{spec.partition(':')[2]}'"
        elif user.name:
            why = f"user '{user.name}' has primary group 0 in /etc/passwd"
        else:
            why = f"the image's /etc/passwd has no entry for uid {user.uid}, so the engine gives it group 0"
        return _result(rule, "fail", f"Runs with group 0 (root's group): USER is '{spec or '(none)'}' and {why}. "
                       "Name a group of its own, e.g. USER 10001:10001.", evidence)
    if 0 in user.supplementary:
        return _result(rule, "fail", f"Runs with group 0 (root's group) as a supplementary group: /etc/group lists "
                       f"'{user.name}' as a member of a gid-0 group. Remove it from that group.", evidence)
    return _result(rule, "pass", f"Runs with group {user.gid}"
                   + (f" and supplementary groups {', '.join(map(str, user.supplementary))}" if user.supplementary else "")
                   + ".", evidence)


def rule_no_onbuild(facts: ImageFacts) -> RuleResult:
    """ONBUILD triggers run in the build of any image made FROM this one, outside its checks."""
    rule = "no-onbuild"
    triggers = [str(t) for t in (facts.config.get("config") or {}).get("OnBuild") or []]
    evidence = {"triggers": [t[:300] for t in triggers[:EVIDENCE]]}
    if triggers:
        return _result(rule, "fail", f"The image carries {len(triggers)} ONBUILD trigger{'s' if len(triggers) > 1 else ''} "
                       f"({_listing([repr(t[:80]) for t in triggers])}): they would run in the builds of images made "
                       "FROM it, unseen by their checks. Remove the ONBUILD lines.", evidence)
    return _result(rule, "pass", "No ONBUILD triggers.", evidence)

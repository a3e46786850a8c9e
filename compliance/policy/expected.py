"""What the policy will say about an image before it is built, as far as its Dockerfile tells.

The rules whose answer is written in the text are evaluated with the rules' own detection: the
final stage's USER, its ENV, the steps the image history keeps (ARG defaults, RUN lines with the
build arguments they saw), hadolint's errors, how the image is meant to run. What only the built
image shows (packages, vulnerabilities, files) stays "unknown" until the scan: a check may fail
here for certain, but never passes what it cannot see. Each check names its rule kind, so the
team's rule set decides which are shown and whether a failure blocks or only warns.
"""
from types import SimpleNamespace
from typing import NamedTuple

from builds.dockerfile.final_stage import FinalStage, RuntimeUser
from compliance.policy.lint import rule_dockerfile_lint
from compliance.policy.rules import rule_no_secrets_in_env, rule_runtime_privileges
from compliance.policy.ruleset import ruleset_for
from compliance.sbom.secrets import SecretScanner


class ExpectedCheck(NamedTuple):
    rule: str  # the policy rule kind, e.g. "non-root-user"
    state: str  # pass, fail, warn (a failure the team's rules only warn about) or unknown
    title: str
    detail: str


NON_ROOT_EXAMPLE = "USER 10001"


def env_secrets_expected(final: FinalStage | None) -> ExpectedCheck:
    """The final stage's ENV through the image rule's own secret detection."""
    title = "No secrets in ENV"
    if final is None:
        return ExpectedCheck("no-secrets-in-env", "unknown", title, "checked on the built image")
    image = SimpleNamespace(config={"config": {"Env": [f"{k}={v}" for k, v in final.env.items()]}})
    result = rule_no_secrets_in_env(image)
    if result.status == "pass":
        return ExpectedCheck("no-secrets-in-env", "pass", title,
                             "none in the Dockerfile's ENV lines (the base image's are checked on the built image)")
    return ExpectedCheck("no-secrets-in-env", "fail", title, result.message)


def history_secrets_expected(final: FinalStage | None) -> ExpectedCheck:
    """The final stage's steps as `docker history` will list them, through the image scanner's own
    secret rules: an ARG default, a build argument a RUN step saw, a token in a RUN line."""
    title = "No secrets in files, labels or history"
    if final is None:
        return ExpectedCheck("no-secrets-in-layers", "unknown", title, "checked on the built image")
    scanner = SecretScanner()
    scanner.scan_config({"history": [{"created_by": step.text, "empty_layer": True} for step in final.history]})
    found = sorted({(final.history[int(f.path.split("/", 1)[1])].line, f.rule) for f in scanner.finish()})
    if not found:
        return ExpectedCheck("no-secrets-in-layers", "unknown", title, "none the scanner recognises in the steps the "
                             "image history keeps; files are checked on the built image" + _credential_named_args(final))
    where = "; ".join(f"line {line} ({rule})" for line, rule in found[:5])
    return ExpectedCheck("no-secrets-in-layers", "fail", title,
                         f"A secret in a step the image history keeps: {where}. Anyone who pulls the image reads it "
                         "with docker history (build arguments included). Pass it at run time instead.")


def _credential_named_args(final: FinalStage) -> str:
    """ARGs the scanner finds no secret in but whose name says credential (API_TOKEN=...): the
    policy will not block them, yet their values stay in the history; say so, without a failure."""
    result = rule_no_secrets_in_env(SimpleNamespace(config={"config": {"Env": [f"{k}={v}" for k, v in final.args.items()]}}))
    names = [f["variable"] for f in result.evidence.get("findings", [])]
    if not names:
        return ""
    return (f". But ARG {', '.join(names[:5])} looks like a credential: the image history keeps build arguments' "
            "values for anyone who pulls, so pass it at run time instead")


def runtime_user_expected(user: RuntimeUser, *, base_name: str, base_user: str = "") -> ExpectedCheck:
    """The final USER as the non-root-user rule will read it; `base_user` is the user the base is
    known to run as when not root (a custom base, from its own verdict), "" when not known."""
    title = "Non-root user"
    if not user.line:
        if base_user:
            return ExpectedCheck("non-root-user", "pass", title, f"no USER in the final stage: it runs as {base_name}'s user {base_user}")
        return ExpectedCheck("non-root-user", "fail", title,
                             f"No USER in the final stage: the image runs as {base_name}'s user, root unless that base "
                             f"sets another. Add a non-root user at the end, e.g. {NON_ROOT_EXAMPLE}.")
    if user.value is None:
        return ExpectedCheck("non-root-user", "unknown", title,
                             f"USER {user.written} (line {user.line}) is known only at build time: checked on the built image")
    name = user.name
    if name == "root" or (name.isdigit() and int(name) == 0):
        return ExpectedCheck("non-root-user", "fail", title,
                             f"USER {user.written} (line {user.line}) runs the image as root. Use a non-root user, e.g. {NON_ROOT_EXAMPLE}.")
    if name.isdigit():
        return ExpectedCheck("non-root-user", "pass", title, f"runs as uid {int(name)} (line {user.line})")
    return ExpectedCheck("non-root-user", "pass", title,
                         f"runs as {name} (line {user.line}); its uid is checked on the built image")


def lint_expected(dockerfile: str) -> ExpectedCheck:
    """hadolint on the Dockerfile that will be built: the rule itself (cached by content)."""
    result = rule_dockerfile_lint(dockerfile)
    return ExpectedCheck("dockerfile-lint", result.status, result.title, result.message)


def as_the_team_sees(team, checks: list[ExpectedCheck], runtime: dict) -> list[ExpectedCheck]:
    """Only the rules the team's images face; a failure of a rule the team only warns about is a
    warning. The runtime rule needs nothing from the image, so it is evaluated for real. Without a
    team, every check as it is (and no runtime rule: it has no global default)."""
    if team is None:
        return checks
    ruleset = ruleset_for(team)
    shown = []
    for check in checks:
        rule = ruleset.get(check.rule)
        if rule is not None:
            shown.append(check._replace(state="warn") if check.state == "fail" and rule.action == "warn" else check)
    rule = ruleset.get("runtime-privileges")
    if rule is not None and not rule.error:
        result = rule_runtime_privileges(runtime, **rule.params)
        state = "pass" if result.status == "pass" else ("warn" if rule.action == "warn" else "fail")
        shown.append(ExpectedCheck("runtime-privileges", state, result.title, result.message))
    return shown


def expected_failures(checks: list[ExpectedCheck]) -> list[ExpectedCheck]:
    """The checks the policy is known to fail, and that block: what a build should be confirmed for."""
    return [check for check in checks if check.state == "fail"]

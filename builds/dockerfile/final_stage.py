"""What the image a Dockerfile builds takes from its final stage, read from the text before any
build. Pure.

The policy judges the built image: the user its config runs as, its environment and its history
(`docker history` lists each step of the final stage, and a RUN step with the build arguments it
saw). The Dockerfile already says most of that, so the forms can tell what the policy will say
before a build is spent on it. Earlier stages leave nothing of theirs in the image's config or
history, only the files copied from them.

The engine builds with the legacy builder, which records a step as `ARG NAME=default`,
`ENV NAME=value`... and a RUN step as `|2 A=1 B=2 /bin/sh -c command` (the build arguments in
scope that have a value, sorted); a secret scanner reading these lines reads what it would read in
the image's history.
"""
import io
from dataclasses import dataclass

from dockerfile_parse import DockerfileParser

from builds.dockerfile.args import ARG_NAME, ArgError, ArgScope, substitute


@dataclass(frozen=True)
class HistoryStep:
    line: int  # 1-based line of the instruction in the Dockerfile
    text: str  # the step as the image history will show it


@dataclass(frozen=True)
class RuntimeUser:
    """The final stage's USER, followed through the stages it is FROM. `line` 0: no stage sets one,
    so the image runs as its base image's user. `value` None: known only at build time."""

    written: str = ""
    value: str | None = ""
    line: int = 0

    @property
    def name(self) -> str:
        """The user part of `user[:group]` ("" when unset or unknown)."""
        return (self.value or "").split(":", 1)[0].strip()


@dataclass(frozen=True)
class FinalStage:
    user: RuntimeUser
    env: dict[str, str]  # the final stage's ENV, ARG values substituted
    args: dict[str, str]  # the final stage's ARGs that have a value (a build argument, else the default)
    history: tuple[HistoryStep, ...]


@dataclass
class _Stage:
    name: str
    source: str  # the image or earlier stage it is FROM, as written
    instructions: list[dict]


def final_stage_read(dockerfile: str, build_args: dict[str, str] | None = None) -> FinalStage:
    """The final stage's runtime user, environment and history steps. Raises ValueError when the
    text cannot be parsed as a Dockerfile (the resolver's line errors say why)."""
    build_args = dict(build_args or {})
    try:
        parser = DockerfileParser(fileobj=io.BytesIO(dockerfile.encode()), build_args=build_args)
        structure, env, args = parser.structure, parser.envs, parser.args
    except Exception as error:  # dockerfile-parse raises whatever its tokenizer meets
        raise ValueError(f"the Dockerfile cannot be parsed: {error}") from error
    stages, global_scope = _stages(structure, build_args)
    if not stages:
        return FinalStage(RuntimeUser(), {}, {}, ())
    return FinalStage(user=_runtime_user(stages, {**args, **env}), env=dict(env), args={k: v for k, v in args.items() if v},
                      history=tuple(_history(stages[-1], build_args, global_scope)))


def _stages(structure: list[dict], build_args: dict) -> tuple[list[_Stage], ArgScope]:
    stages: list[_Stage] = []
    scope = ArgScope()  # the ARGs before the first FROM, which a stage may declare again to use
    for instruction in structure:
        keyword = instruction["instruction"].upper()
        if keyword == "FROM":
            words = [w for w in instruction["value"].split() if not w.startswith("--")]
            name = words[2].lower() if len(words) == 3 and words[1].lower() == "as" else ""
            stages.append(_Stage(name, words[0].lower() if words else "", []))
        elif stages:
            stages[-1].instructions.append(instruction)
        elif keyword == "ARG":
            try:
                scope.declare(instruction["value"], build_args)
            except ArgError:
                pass  # the resolver refuses such a Dockerfile, with the line
    return stages, scope


def _runtime_user(stages: list[_Stage], final_scope: dict) -> RuntimeUser:
    """The last USER of the final stage; without one, of the earlier stage it is FROM, and so on."""
    index = len(stages) - 1
    for _ in range(len(stages)):
        stage = stages[index]
        users = [i for i in stage.instructions if i["instruction"].upper() == "USER"]
        if users:
            written, line = users[-1]["value"].strip(), users[-1]["startline"] + 1
            # Variables are worked out with the final stage's ARGs and ENV only; elsewhere: unknown.
            return RuntimeUser(written, _substituted(written, final_scope if index == len(stages) - 1 else {}), line)
        earlier = [n for n, s in enumerate(stages[:index]) if s.name and s.name == stage.source]
        if not earlier:
            return RuntimeUser()
        index = earlier[-1]
    return RuntimeUser()


def _substituted(text: str, values: dict) -> str | None:
    if "$" not in text:
        return text
    try:
        return substitute(text, ArgScope(values=dict(values)))
    except ArgError:
        return None


def _history(stage: _Stage, build_args: dict, global_scope: ArgScope) -> list[HistoryStep]:
    in_scope: dict[str, str] = {}  # build arguments a RUN step sees, with their values
    steps = []
    for instruction in stage.instructions:
        keyword, value, line = instruction["instruction"].upper(), instruction["value"], instruction["startline"] + 1
        if keyword == "COMMENT":
            continue
        if keyword == "ARG":
            in_scope.update(_declared(value, build_args, global_scope))
            steps.append(HistoryStep(line, f"ARG {value}"))
        elif keyword == "RUN":
            prefix = f"|{len(in_scope)} " + " ".join(f"{k}={v}" for k, v in sorted(in_scope.items())) + " " if in_scope else ""
            steps.append(HistoryStep(line, f"{prefix}/bin/sh -c {value}"))
        else:
            steps.append(HistoryStep(line, f"{keyword} {value}"))
    return steps


def _declared(declaration: str, build_args: dict, global_scope: ArgScope) -> dict[str, str]:
    """The values one ARG instruction gives: a build argument, else its default, else the global ARG's."""
    values = {}
    for item in declaration.split():
        name, has_default, default = item.partition("=")
        if not ARG_NAME.fullmatch(name):
            continue
        if name in build_args:
            values[name] = build_args[name]
        elif has_default:
            values[name] = default.strip("\"'")
        elif isinstance(global_scope.values.get(name), str):
            values[name] = global_scope.values[name]
    return values

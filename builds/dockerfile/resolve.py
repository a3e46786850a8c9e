r"""Accept a team's own Dockerfile only when every image it starts from is an approved base. Pure.

`dockerfile_resolve` parses the Dockerfile with dockerfile-parse, substitutes the ARGs declared
before the first FROM, follows references to earlier stages (`FROM builder`, `COPY --from=builder`
or `--from=0`), matches every other image to the catalog and rewrites it to the pinned
`host/repository@sha256:...`. Problems are collected per line, so the page can show all of them
next to the Dockerfile at once.

Decisions:
- `FROM scratch` is refused: an image from scratch has none of an approved base's layers, so the
  approved-base rule would block it after a wasted build. Copy a static binary onto a base instead.
- `--platform` is accepted only when it names the engine's own platform, and is then dropped from
  the rewritten line (the pinned digest already fixes what is built on).
- `ADD <url>` is refused: the download would enter the image unseen by the checks of the context;
  put the file in the context instead.
- `ONBUILD` is refused: its instructions run later, in the build of whatever image is made FROM
  this one, where none of this image's checks see them (the no-onbuild rule blocks an image that
  carries triggers whatever door it came through; this says so before a build is wasted).
- Flags only BuildKit knows (`RUN --mount`, `COPY --chmod`, `--link`...) are refused up front with a
  message, because this engine builds with the legacy builder.
- Rewritten FROM lines keep their line count (continuation lines become blank), so hadolint's and
  the engine's line numbers still point at the user's lines.
- The checks must read the instructions the engine will run, no more and no fewer: a Dockerfile
  that dockerfile-parse and the engine's own parser (Go) would split into instructions differently
  is refused (`_reading_check`). Found by feeding both the same text: a line ending in the escape
  character and a no-break space continues for Python's Unicode `\s` and not for the engine's
  `[ \t]`, which then runs the next line, unchecked (an `ADD <url>` fetched from the host's
  network, a `FROM` of any image); an escape directive after `# syntax=` or spelled with such a
  space is honoured by one and not the other; a blank line inside a continued instruction ends it
  for one and is skipped by the other; a UTF-8 byte order mark is stripped by the engine only.
"""
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field

from dockerfile_parse import DockerfileParser

from builds.dockerfile.args import ARG_NAME, ArgError, ArgScope, substitute
from builds.dockerfile.image_reference import CatalogBase, ImageReferenceError, base_match, pinned, reference_parse

KiB = 1024
MAX_STAGES = 32
MAX_BUILD_ARGS = 32
MAX_BUILD_ARG_VALUE = 1024
KNOWN = {"FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
         "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
ALLOWED_FLAGS = {"COPY": {"from", "chown"}, "ADD": {"chown"}}
STAGE_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_.-]{0,63}")
URL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://|git@)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Whitespace to Python but not to the engine's parser where it looks for a line's continuation.
_UNICODE_SPACE = re.compile(r"[^\S \t\n]")
# An escape directive as either parser might read one; only the first line's, spelled plainly, is
# read alike by both (the engine ignores one after `# syntax=` with no value, dockerfile-parse not).
_ESCAPE_LIKE = re.compile(r"^\s*#\s*escape\s*=", re.IGNORECASE)
_ESCAPE_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*escape[ \t]*=[ \t]*([\\`])[ \t]*$", re.IGNORECASE)
BYTE_ORDER_MARK = "\ufeff"


@dataclass(frozen=True)
class LineError:
    line: int  # 1-based; 0 for the Dockerfile as a whole
    message: str


class DockerfileRefused(ValueError):
    """The Dockerfile is refused; `errors` says why, line by line."""

    def __init__(self, errors: list[LineError]):
        self.errors = sorted(errors, key=lambda e: e.line)
        first = self.errors[0]
        where = f"line {first.line}: " if first.line else ""
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(f"{where}{first.message}{more}")


@dataclass(frozen=True)
class Stage:
    index: int
    name: str  # "" when the stage has no AS name
    line: int
    base_slug: str  # the catalog base this stage starts from, directly or through earlier stages
    source: str  # what the user wrote after substitution: an image or an earlier stage's name


@dataclass(frozen=True)
class ResolvedDockerfile:
    dockerfile: str  # what is built: every image pinned by digest
    stages: tuple[Stage, ...]
    bases: tuple[str, ...]  # slugs of every catalog base used, in first-use order

    @property
    def final_base_slug(self) -> str:
        return self.stages[-1].base_slug


@dataclass(frozen=True)
class ResolveContext:
    """What the Dockerfile is checked against."""

    bases: list[CatalogBase]
    registry_host: str
    platform: str  # the engine's, e.g. "linux/amd64"
    max_bytes: int = 64 * KiB


@dataclass
class _State:
    context: ResolveContext
    build_args: dict[str, str]
    lines: list[str]
    errors: list[LineError] = field(default_factory=list)
    scope: ArgScope = field(default_factory=ArgScope)
    stages: list[Stage] = field(default_factory=list)
    declared: set[str] = field(default_factory=set)  # every ARG name anywhere, for unused build args

    def error(self, line: int, message: str) -> None:
        self.errors.append(LineError(line, message))

    def stage_named(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name and s.name == name.lower()), None)


def dockerfile_resolve(text: str, *, build_args: dict[str, str], context: ResolveContext) -> ResolvedDockerfile:
    """The Dockerfile with every image pinned, or DockerfileRefused listing every problem by line."""
    text = text.removeprefix(BYTE_ORDER_MARK)  # as the engine reads it; what is built has none
    _text_check(text, context.max_bytes)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    state = _State(context=context, build_args=dict(build_args), lines=lines)
    _build_args_check(state)
    parser = DockerfileParser(fileobj=io.BytesIO("\n".join(lines).encode()))
    _reading_check(lines, parser.structure)
    for instruction in parser.structure:
        _instruction(state, instruction)
    if not state.stages and not state.errors:
        state.error(0, "the Dockerfile has no FROM line")
    for name in sorted(set(state.build_args) - state.declared):
        state.error(0, f"build argument {name} is not declared by any ARG in the Dockerfile")
    if state.errors:
        raise DockerfileRefused(state.errors)
    bases = tuple(dict.fromkeys(s.base_slug for s in state.stages))
    return ResolvedDockerfile(dockerfile="\n".join(state.lines), stages=tuple(state.stages), bases=bases)


def _text_check(text: str, max_bytes: int) -> None:
    if not _is_utf8(text):
        raise DockerfileRefused([LineError(0, "the Dockerfile is not valid UTF-8 text")])
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise DockerfileRefused([LineError(0, f"the Dockerfile is {size:,} bytes; the limit is {max_bytes:,}")])
    if not text.strip():
        raise DockerfileRefused([LineError(0, "the Dockerfile is empty")])
    bad = [LineError(number, "the line contains a NUL or control character")
           for number, line in enumerate(text.split("\n"), 1) if _CONTROL.search(line)]
    if bad:
        raise DockerfileRefused(bad[:20])


def _reading_check(lines: list[str], structure: list[dict]) -> None:
    """Refuse a Dockerfile whose instructions the engine would find on other lines than
    dockerfile-parse did (see the module's docstring): the escape directive anywhere but plainly on
    the first line, a blank line inside a continued instruction, or any other difference in where
    instructions start."""
    errors = []
    first = next((number for number, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")),
                 len(lines))
    for number, line in enumerate(lines[:first]):
        if _ESCAPE_LIKE.match(line) and (number > 0 or not _ESCAPE_DIRECTIVE.match(line)):
            errors.append(LineError(number + 1, "an escape directive is accepted only as the first line, written "
                                                "`# escape=\\` or `# escape=``: here the engine and the checks would "
                                                "each read it differently"))
    if errors:
        raise DockerfileRefused(errors)
    directive = _ESCAPE_DIRECTIVE.match(lines[0])  # split() gives at least one line
    escape = directive.group(1) if directive else "\\"
    for number, line in enumerate(lines):
        content = line.rstrip()
        if content.endswith(escape) and (space := _UNICODE_SPACE.search(line[len(content):])):
            errors.append(LineError(number + 1, f"the line ends in a {_space_name(space.group())} after the "
                                                "escape character: the checks would read the next line as part of "
                                                "this instruction and the engine as an instruction of its own; "
                                                "remove it"))
    starts, blanks = _engine_instruction_lines(lines, escape)
    errors += [LineError(number + 1, "a blank line inside an instruction continued from the line before: the "
                                     "engine skips it and joins the next line to the instruction; remove it")
               for number in blanks]
    seen = [instruction["startline"] for instruction in structure if instruction["instruction"] != "COMMENT"]
    if not errors and seen != starts:
        line = next((a for a, b in zip(seen, starts) if a != b), min(seen[len(starts):] + starts[len(seen):]))
        errors.append(LineError(line + 1, "the engine would read the instructions from this line on differently "
                                          "from the checks; write one instruction per line, continued by a "
                                          "trailing escape character"))
    if errors:
        raise DockerfileRefused(errors)


def _space_name(character: str) -> str:
    return f"{unicodedata.name(character, 'space').lower()} (U+{ord(character):04X})"


def _engine_instruction_lines(lines: list[str], escape: str) -> tuple[list[int], list[int]]:
    """Where the engine's parser finds instructions, as it reads lines: (the first line of each,
    the blank lines inside a continued one), 0-based. A comment line (spaces, then #) is skipped
    everywhere and a blank line too; a line continues when it ends with the escape character and
    nothing after it but spaces and tabs (tests/integration/test_dockerfile_reading.py checks this
    reading against the engine's)."""
    continues = re.compile(re.escape(escape) + r"[ \t]*$")  # Go's regular expression, ASCII only
    starts, blanks, inside = [], [], False
    for number, line in enumerate(lines):
        content = line.lstrip()  # as Go's unicode.IsSpace trims a line's start
        if content.startswith("#"):
            continue
        if not content:
            if inside:
                blanks.append(number)
            continue
        if not inside:
            starts.append(number)
        inside = bool(continues.search(line))
    return starts, blanks


def _build_args_check(state: _State) -> None:
    if len(state.build_args) > MAX_BUILD_ARGS:
        state.error(0, f"at most {MAX_BUILD_ARGS} build arguments")
    for name, value in state.build_args.items():
        if not ARG_NAME.fullmatch(name):
            state.error(0, f"build argument name {name[:40]!r}: use letters, digits and '_' (at most 64)")
        elif (not isinstance(value, str) or len(value) > MAX_BUILD_ARG_VALUE or _CONTROL.search(value) or "\n" in value
              or not _is_utf8(value)):
            state.error(0, f"build argument {name}: one line of text, at most {MAX_BUILD_ARG_VALUE} characters")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")  # a JSON body can carry lone surrogates ("\ud800"), which are not text
        return True
    except UnicodeEncodeError:
        return False


def _instruction(state: _State, instruction: dict) -> None:
    keyword, line = instruction["instruction"].upper(), instruction["startline"] + 1
    if keyword == "COMMENT":
        return
    if keyword not in KNOWN:
        state.error(line, f"unknown instruction {keyword[:30]}")
        return
    if keyword == "ARG":
        _arg(state, instruction, line)
    elif keyword == "FROM":
        _from(state, instruction, line)
    elif not state.stages:
        state.error(line, f"{keyword} comes before the first FROM; only ARG may")
    elif keyword in ("COPY", "ADD", "RUN"):
        _flags_and_sources(state, instruction, keyword, instruction["value"], line)
    elif keyword == "ONBUILD":
        state.error(line, "ONBUILD is not accepted: its instructions would run in the builds of other images made "
                          "FROM this one, outside their checks, and the policy blocks images that carry them; "
                          "put the steps in this Dockerfile instead")


def _arg(state: _State, instruction: dict, line: int) -> None:
    value = instruction["value"]
    names = [item.partition("=")[0] for item in value.split()]
    if not names:
        state.error(line, "ARG needs a name")
        return
    state.declared.update(names)
    if state.stages:
        return  # a stage's ARG: not visible to FROM lines, only its name counts for build arguments
    try:
        state.scope.declare(value, state.build_args)
    except ArgError as error:
        state.error(line, str(error))


def _from(state: _State, instruction: dict, line: int) -> None:
    if len(state.stages) >= MAX_STAGES:
        state.error(line, f"more than {MAX_STAGES} stages")
        return
    words = instruction["value"].split()
    flags = [w for w in words if w.startswith("--")]
    rest = [w for w in words if not w.startswith("--")]
    for flag in flags:
        name, _, value = flag[2:].partition("=")
        if name != "platform":
            state.error(line, f"FROM --{name[:30]} is not supported")
        else:
            _platform_check(state, value, line)
    if len(rest) == 3 and rest[1].lower() == "as":
        source, name = rest[0], rest[2]
    elif len(rest) == 1:
        source, name = rest[0], ""
    else:
        state.error(line, "FROM takes an image and an optional 'AS name'")
        return
    if name and not STAGE_NAME.fullmatch(name):
        state.error(line, f"stage name {name[:70]!r}: start with a letter; letters, digits, '_', '.' and '-' (at most 64)")
        return
    if name and state.stage_named(name):
        state.error(line, f"stage name {name} is used twice")
        return
    try:
        source = substitute(source, state.scope)
    except ArgError as error:
        state.error(line, str(error))
        return
    earlier = state.stage_named(source)
    if earlier is not None:
        stage = Stage(len(state.stages), name.lower(), line, earlier.base_slug, earlier.name)
        rewritten = f"FROM {earlier.name}" + (f" AS {name}" if name else "")
    elif source.lower() == "scratch":
        state.error(line, "FROM scratch is not accepted: the image would have none of an approved base's layers "
                          "and the approved-base rule would block it; start FROM an approved base instead")
        return
    else:
        base = _approved(state, source, line, "FROM")
        if base is None:
            return
        stage = Stage(len(state.stages), name.lower(), line, base.slug, source)
        rewritten = f"FROM {pinned(base, state.context.registry_host)}" + (f" AS {name}" if name else "")
    state.stages.append(stage)
    _replace(state, instruction, rewritten)


def _platform_check(state: _State, value: str, line: int) -> None:
    try:
        platform = substitute(value, state.scope)
    except ArgError as error:
        state.error(line, f"--platform: {error}")
        return
    if platform.strip().lower() != state.context.platform:
        state.error(line, f"--platform={platform[:40]} is not the build engine's platform ({state.context.platform})")


def _approved(state: _State, text: str, line: int, where: str) -> CatalogBase | None:
    try:
        return base_match(reference_parse(text), state.context.bases, state.context.registry_host)
    except ImageReferenceError as error:
        state.error(line, f"{where}: {error}")
        return None


def _flags_and_sources(state: _State, instruction: dict, keyword: str, value: str, line: int) -> None:
    words = value.split()
    flags = []
    while words and words[0].startswith("--"):
        flags.append(words.pop(0))
    for flag in flags:
        name, _, flag_value = flag[2:].partition("=")
        if name not in ALLOWED_FLAGS.get(keyword, set()):
            state.error(line, f"{keyword} --{name[:30]} needs BuildKit; this engine builds with the legacy builder")
        elif name == "from":
            _copy_from(state, instruction, flag_value, line)
    if keyword == "ADD":
        for source in _sources(" ".join(words))[:-1]:
            if URL.match(source):
                state.error(line, f"ADD {source[:80]} downloads at build time, outside the checks of the context: "
                                  "put the file in the context and COPY it")


def _sources(arguments: str) -> list[str]:
    if arguments.startswith("["):
        try:
            parsed = json.loads(arguments)
            if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
                return parsed
        except ValueError:
            pass
    return arguments.split()


def _copy_from(state: _State, instruction: dict, source: str, line: int) -> None:
    if source.isdigit():
        if int(source) >= len(state.stages) - 1:
            state.error(line, f"COPY --from={source}: only an earlier stage can be copied from "
                              f"(stages 0 to {len(state.stages) - 2})" if len(state.stages) > 1
                        else f"COPY --from={source}: there is no earlier stage")
        return
    if "$" in source:
        state.error(line, "COPY --from cannot use ARG substitution with this builder; name the stage or image")
        return
    if state.stage_named(source) is not None:
        return
    base = _approved(state, source, line, "COPY --from")
    if base is None:
        return
    start, end = instruction["startline"], instruction["endline"]
    old = f"--from={source}"
    for number in range(start, end + 1):
        if re.search(re.escape(old) + r"(?=\s|$)", state.lines[number]):
            state.lines[number] = re.sub(re.escape(old) + r"(?=\s|$)",
                                         f"--from={pinned(base, state.context.registry_host)}", state.lines[number], count=1)
            return
    state.error(line, "write COPY --from=<image> on one line")


def _replace(state: _State, instruction: dict, rewritten: str) -> None:
    start, end = instruction["startline"], instruction["endline"]
    state.lines[start] = rewritten
    for number in range(start + 1, end + 1):
        state.lines[number] = ""

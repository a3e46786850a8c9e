"""ARGs declared before the first FROM, and their substitution into FROM lines. Pure.

Docker expands `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}` in FROM with the ARGs
declared before the first FROM (a build argument overrides the default). Where Docker would quietly
use an empty string for an ARG nobody set, this refuses: an empty image name or tag is never meant.
"""
import re
from dataclasses import dataclass, field

ARG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# `$$`, `${x:?err}`, nested `${a:-$b}` and the like are not needed in a FROM line: refused.
_SUBSTITUTION = re.compile(
    r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<op>[-+])(?P<word>[^${}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


class ArgError(ValueError):
    """A substitution cannot be made; the message says which ARG and why."""


@dataclass
class Unresolved:
    """An ARG without a value, and why (shown only if a FROM uses it)."""

    reason: str


@dataclass
class ArgScope:
    """Global ARGs in declaration order: name -> value, or Unresolved."""

    values: dict = field(default_factory=dict)

    def declare(self, declaration: str, build_args: dict[str, str]) -> None:
        """Read one ARG instruction's value (`NAME`, `NAME=default`, or several of them)."""
        for item in declaration.split():
            name, has_default, default = item.partition("=")
            if not ARG_NAME.fullmatch(name):
                raise ArgError(f"ARG {name!r} is not a valid name")
            if name in build_args:
                self.values[name] = build_args[name]  # Docker uses a build argument literally
            elif has_default:
                try:
                    self.values[name] = substitute(_unquote(default), self)
                except ArgError as error:
                    self.values[name] = Unresolved(f"its default cannot be worked out: {error}")
            else:
                self.values[name] = Unresolved(f"ARG {name} has no default and no build argument {name} was given")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def substitute(text: str, scope: ArgScope) -> str:
    """`text` with every ARG reference replaced; ArgError for an undefined ARG or odd syntax."""

    def replace(match):
        name = match.group("braced") or match.group("bare")
        value = scope.values.get(name)
        if value is None:
            if match.group("op") == "-":
                return match.group("word")
            if match.group("op") == "+":
                return ""
            raise ArgError(f"${name} is not declared by an ARG before the first FROM")
        if isinstance(value, Unresolved):
            if match.group("op") == "-":
                return match.group("word")
            if match.group("op") == "+":
                return ""
            raise ArgError(f"${name} cannot be resolved: {value.reason}")
        if match.group("op") == "-":
            return value or match.group("word")
        if match.group("op") == "+":
            return match.group("word") if value else ""
        return value

    result = _SUBSTITUTION.sub(replace, text)
    leftover = _SUBSTITUTION.sub("", text)
    if "$" in leftover:
        raise ArgError(f"unsupported substitution in {text!r}: use $NAME, ${{NAME}}, ${{NAME:-default}} or ${{NAME:+word}}")
    return result

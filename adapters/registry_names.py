"""The one name rule for everything that becomes part of a registry path or tag.

A team slug and a recipe name each become one path component of `<prefix>/<team>/<name>`; if
either could hold `/`, `..` or `:`, a team could write into another team's namespace or out of
quarantine (the registry resolves `..` segments). So every door (form, API, admin, command,
import, the pipeline and the gate) checks names with these functions, and the repository paths
the portal writes are only ever assembled by `repository_path` from checked parts.

The grammar is Distribution's for one path component (lower-case letters and digits, separated
by `.`, `_`, `__` or dashes), which is also what every registry accepts, so a name that passes
here never fails later at push time. Pure (no Django), so the registry client checks with it too.
"""
import re

PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
# Distribution caps a whole repository name at 255 characters; the team and image parts are kept
# well below so that any prefix setting still fits.
TEAM_SLUG_MAX = 50
IMAGE_NAME_MAX = 60
REPOSITORY_MAX = 255
NAME_RULE = "lower-case letters and digits, joined by single '.', '_' or '-' (e.g. pay-api)"


class InvalidName(ValueError):
    """A name that cannot be part of a registry path; the message says why, in the user's terms."""


def registry_name_check(value, *, what: str = "name", max_length: int = IMAGE_NAME_MAX) -> str:
    """`value` if it is one valid registry path component of at most `max_length` characters."""
    if not isinstance(value, str) or not value:
        raise InvalidName(f"The {what} is empty; use {NAME_RULE}.")
    if len(value) > max_length:
        raise InvalidName(f"The {what} is {len(value)} characters long; at most {max_length} are allowed.")
    if not PATH_COMPONENT.fullmatch(value):
        raise InvalidName(f"The {what} {value!r} is not allowed; use {NAME_RULE}.")
    return value


def tag_check(value) -> str:
    """`value` if it is a valid registry tag (the reference grammar's tag)."""
    if not isinstance(value, str) or not TAG.fullmatch(value):
        raise InvalidName(f"The tag {value!r} is not allowed: letters, digits, '.', '_' and '-', "
                          "at most 128, not starting with '.' or '-'.")
    return value


def repository_check(value) -> str:
    """`value` if it is a whole repository path (components joined by single slashes)."""
    if not isinstance(value, str) or len(value) > REPOSITORY_MAX:
        raise InvalidName(f"The repository {value!r} is too long or not text.")
    for part in value.split("/"):
        if not PATH_COMPONENT.fullmatch(part):
            raise InvalidName(f"The repository {value!r} has an invalid part {part!r}.")
    return value


def reference_check(value) -> str:
    """`value` if it is a tag or a sha256 digest."""
    if isinstance(value, str) and DIGEST.fullmatch(value):
        return value
    return tag_check(value)


def team_image_check(team_slug: str, image_name: str) -> None:
    """Both parts of a team's image path follow the rule."""
    registry_name_check(team_slug, what="team slug", max_length=TEAM_SLUG_MAX)
    registry_name_check(image_name, what="image name")


def repository_path(prefix: str, team_slug: str, image_name: str) -> str:
    """`<prefix>/<team>/<name>`, each part checked: the only way the portal spells a team's repository."""
    repository_check(prefix)
    team_image_check(team_slug, image_name)
    return repository_check(f"{prefix}/{team_slug}/{image_name}")

"""The comments the composer writes above its lines, and how they are read back. Pure.

They are for people reading the Dockerfile first, and also the record of which component a line
belongs to: compliance reads them (through compliance/policy/provenance.py) to name what added a
package ("option wget 1"), so the form is written and read in this one module."""
import re

# "option: wget 1", "service: jacoco 0.8.6-1 (final)"; "for option: wget, service: jre" above a shared apt transaction
_COMPONENT = re.compile(r"\b(option|service): ([A-Za-z0-9_-]+)")
_CONTRIBUTORS = "for "


def component_note(kind: str, slug: str, version: str, detail: str = "") -> str:
    return f"# {kind}: {slug} {version}{detail}"


def contributors_note(components: list[tuple[str, str]]) -> str:
    """Above an apt transaction: the (kind, slug) of every component whose packages it installs."""
    return "# " + _CONTRIBUTORS + ", ".join(f"{kind}: {slug}" for kind, slug in components)


def note_components(note: str) -> list[tuple[str, str]]:
    """(kind, slug) of the components a comment (without its "# ") names: the one whose lines
    follow, or every one an apt transaction installs packages for; [] for any other comment."""
    if note.startswith(_CONTRIBUTORS):
        return _COMPONENT.findall(note)
    match = _COMPONENT.match(note)
    return [match.groups()] if match else []

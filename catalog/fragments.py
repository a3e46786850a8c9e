"""The grammar of a component version's Dockerfile fragment, as platform admins write it. Pure.

A fragment uses a few Dockerfile instructions (FROM belongs to the composer alone) and inserts
parameters as `{{ name }}` placeholders, each declared in the version's parameter schema; the
composer (builds/compose/composer.py) fills them in, validated and shell-quoted."""
import re

from catalog.parameters import ParameterError, spec_check

PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")

# Instructions a curated fragment may use; FROM belongs to the composer alone.
ALLOWED_INSTRUCTIONS = {"RUN", "ENV", "COPY", "EXPOSE", "WORKDIR", "USER", "LABEL", "ARG", "VOLUME", "CMD", "ENTRYPOINT",
                        "HEALTHCHECK", "SHELL", "STOPSIGNAL"}


class FragmentError(ValueError):
    """The fragment or its parameter schema is invalid; the message says why."""


def fragment_check(fragment: str, specs: list[dict]) -> None:
    """Admin-side check of a fragment: known instructions, declared placeholders, valid specs."""
    for spec in specs:
        try:
            spec_check(spec)
        except ParameterError as error:
            raise FragmentError(str(error))
    declared = {s["name"] for s in specs}
    for name in PLACEHOLDER.findall(fragment):
        if name not in declared:
            raise FragmentError(f"placeholder {{{{ {name} }}}} has no parameter")
    continued = False
    for line in fragment.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not continued:
            instruction = stripped.split(None, 1)[0].upper()
            if instruction not in ALLOWED_INSTRUCTIONS:
                raise FragmentError(f"instruction {instruction} is not allowed in a fragment")
        continued = stripped.endswith("\\")

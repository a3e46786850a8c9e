"""Merge the catalog's standard apt installs of one recipe into a single apt transaction. Pure.

Why: every `apt-get update && apt-get install` step fetches and parses the package indexes again,
starts a container and commits a layer; on the project's machines that overhead, not the packages,
dominates a Debian build. One transaction per recipe, with a sorted package list placed right after
FROM, means one index update per build, and every recipe that needs the same packages shares that
layer whatever else it sets (time zone, certificate, user).

Runtimes are the exception to "one transaction": the packages of service components (a JRE: ~45 s
here) go in a transaction of their own, below the options' one, so every recipe with the same runtime
shares that big layer while the small tools on top vary from recipe to recipe. That costs one more
index update for a recipe with a service and saves the whole runtime install for every other recipe
that has it (measured in bench/shared_builds.py).

Only a RUN in the catalog's exact form is merged:
    RUN apt-get update && apt-get install -y --no-install-recommends PKG... [&& CMD...] && rm -rf /var/lib/apt/lists/*
Its packages join the transaction; its other commands (`ln -sf ...`, `update-ca-certificates`) stay
where the fragment was, as their own RUN, so they still run after the packages are in. Anything the
merge does not understand (other apt flags, purge, `||`, `;`, pipes, exec form, a RUN or ENV before it
in the fragment, a COPY into /etc/apt) is left exactly as written.
"""
import re
import shlex
from dataclasses import dataclass, field

APT_CLEAN = "rm -rf /var/lib/apt/lists/*"
INSTALL_FLAGS = {"-y", "--no-install-recommends"}
PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]*(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?")
# Shell operators that change how `&&` chains group; a RUN holding one is never taken apart.
UNSAFE_TOKENS = {"||", ";", "|", "&", "(", ")", ";;", "|&"}
# Instructions a fragment may have before its apt RUN and still be merged: none of them changes apt.
HARMLESS_BEFORE = {"COPY", "LABEL", "EXPOSE"}


@dataclass
class Merged:
    runs: list[str]  # the apt transactions, lowest layer first (empty when nothing could be merged)
    fragments: list[str]  # the fragments with their merged apt RUN replaced by what remains of it
    packages: list[str]
    shared: list[str] = field(default_factory=list)  # runs[i] installs shared[i] alone ("" for the others)
    # sources[i]: indexes of the fragments whose packages runs[i] installs (the composer names them above it)
    sources: list[list[int]] = field(default_factory=list)


def instructions(fragment: str) -> list[str]:
    """Split a fragment into instructions, each with its continuation lines (comments kept alone)."""
    result, current = [], []
    for line in fragment.splitlines():
        if not current and (not line.strip() or line.strip().startswith("#")):
            result.append(line)
            continue
        current.append(line)
        if not line.rstrip().endswith("\\"):
            result.append("\n".join(current))
            current = []
    if current:
        result.append("\n".join(current))
    return result


def _keyword(instruction: str) -> str:
    stripped = instruction.strip()
    return "" if not stripped or stripped.startswith("#") else stripped.split(None, 1)[0].upper()


def _commands(run: str) -> list[str] | None:
    """The `&&`-separated commands of a shell-form RUN, or None when splitting could change its meaning."""
    lines = run.splitlines()
    if any(line.strip().startswith("#") for line in lines[1:]):
        return None
    body = re.sub(r"\\\s*\n", " ", run).strip()[len("RUN"):].strip()
    if body.startswith("["):
        return None  # exec form
    try:
        lexer = shlex.shlex(body, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return None
    if UNSAFE_TOKENS & set(tokens) or "`" in body or "$(" in body:
        return None
    pieces = [p.strip() for p in body.split("&&")]
    if tokens.count("&&") != len(pieces) - 1:
        return None  # an `&&` inside quotes: the plain split would cut a word in two
    return pieces


def _apt_parts(run: str) -> tuple[list[str], list[str]] | None:
    """(packages, remaining commands) of a mergeable apt RUN, else None."""
    pieces = _commands(run)
    if not pieces or len(pieces) < 3 or pieces[0] != "apt-get update" or pieces[-1] != APT_CLEAN:
        return None
    words = pieces[1].split()
    if words[:2] != ["apt-get", "install"]:
        return None
    flags = {w for w in words[2:] if w.startswith("-")}
    packages = [w for w in words[2:] if not w.startswith("-")]
    if flags != INSTALL_FLAGS or not packages or not all(PACKAGE.fullmatch(p) for p in packages):
        return None
    rest = pieces[2:-1]
    if any(re.search(r"\b(apt|apt-get|dpkg|aptitude)\b", command) for command in rest):
        return None  # it needs the package lists or changes packages: keep it with its install
    return packages, rest


def _harmless(instruction: str) -> bool:
    keyword = _keyword(instruction)
    if not keyword:
        return True
    if keyword not in HARMLESS_BEFORE:
        return False
    return not (keyword == "COPY" and "/etc/apt" in instruction)


def package_name(spec: str) -> str:
    """'wget=1.21-1' or 'libc6:amd64' -> the package's name."""
    return spec.split("=")[0].split(":")[0]


def _transaction(names: list[str]) -> str:
    return ("RUN apt-get update \\\n"
            f" && apt-get install -y --no-install-recommends {' '.join(sorted(names))} \\\n"
            f" && {APT_CLEAN}")


def install_command(packages: str) -> str:
    return f"apt-get install -y --no-install-recommends {packages}"


def transaction_from_lists(packages: str, lists_dir: str = "/var/lib/apt/lists") -> str:
    """The RUN a transaction becomes when the worker copies its package lists (builds/runner/apt_index.py):
    kept here, beside the form it rewrites, because the image's history shows this one and
    compliance matches it back to the transaction's line of the recorded Dockerfile."""
    return (f"RUN ({install_command(packages)} \\\n"
            f"     || (rm -rf {lists_dir}/* && apt-get update && {install_command(packages)})) \\\n"
            f" && rm -rf {lists_dir}/*")


def apt_merge(fragments: list[str], tiers: list[int] | None = None, shared_first: tuple[str, ...] = ()) -> Merged:
    """Take the mergeable apt RUN out of each rendered fragment (in the order given).

    tiers[i] says which transaction fragment i's packages join (lowest tier = lowest layer); a
    package two tiers ask for is installed in the lower one only. Within a tier, the packages named
    in shared_first (in that order) get a transaction each, below the tier's other packages."""
    tiers = tiers or [0] * len(fragments)
    packages: dict[str, str] = {}  # name -> exact spec, so a second pin of one name is not merged
    tier_of: dict[str, int] = {}
    asked: list[set[str]] = []  # per fragment, the package names it gave to the merge
    out = []
    for fragment, tier in zip(fragments, tiers):
        asked.append(set())
        parts = instructions(fragment)
        for index, instruction in enumerate(parts):
            if _keyword(instruction) != "RUN":
                continue
            found = _apt_parts(instruction)
            before_ok = all(_harmless(p) for p in parts[:index])
            specs = {package_name(p): p for p in found[0]} if found else {}
            if found and before_ok and all(packages.get(n, s) == s for n, s in specs.items()):
                packages.update(specs)
                for name in specs:
                    tier_of[name] = min(tier_of.get(name, tier), tier)
                asked[-1].update(specs)
                rest = found[1]
                parts[index] = ("RUN " + " \\\n && ".join(rest)) if rest else ""
            break  # only a fragment's first RUN may be merged: later ones may depend on earlier steps
        out.append("\n".join(p for p in parts if p != "").strip())
    if not packages:
        return Merged(runs=[], fragments=list(fragments), packages=[])
    runs, shared, sources = [], [], []
    for tier in sorted(set(tier_of.values())):
        names = [n for n in tier_of if tier_of[n] == tier]
        alone = [n for n in shared_first if n in names]
        groups = [[n] for n in alone] + [[n for n in names if n not in alone]]
        for group in filter(None, groups):
            runs.append(_transaction([packages[n] for n in group]))
            shared.append(group[0] if group[0] in alone else "")
            sources.append([i for i, wanted in enumerate(asked) if wanted & set(group)])
    return Merged(runs=runs, fragments=out, packages=sorted(packages.values()), shared=shared, sources=sources)

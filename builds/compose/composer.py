"""Compose a recipe snapshot into a Dockerfile and build-context files. Pure: no ORM, no Docker.

The same snapshot always gives byte-identical output (the preview users see is what gets built).
Components come in a canonical order (options before services, then by weight and slug, with
requirements first) so recipes with the same choices share layers on the engine, and the catalog's
standard apt installs are merged into one transaction right after FROM (see apt_merge). Every parameter
value is validated by type and inserted shell-quoted; multi-line values (certificates) never enter
the Dockerfile: they become context files that the fragment COPYs."""
import hashlib
import re
import shlex
from dataclasses import dataclass, field

from builds.compose.apt_merge import apt_merge
from builds.compose.build_stage import BuildStage, BuildStageError, build_output_copy, build_stage_compose
from builds.compose.notes import component_note, contributors_note
from builds.errors import CompositionError
from catalog.fragments import PLACEHOLDER
from catalog.parameters import parameters_clean

# Artifact names end up in a COPY line: keep them to a safe alphabet.
SAFE_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

KIND_RANK = {"option": 0, "service": 1}

ARTIFACT_DIR = "/app"

IMAGE_SCRIPT = "paas/image-env.sh"

STAGE_ONE = "portal-stage-one"  # replaced by the first stage's image id when the worker builds stage 2


@dataclass(frozen=True)
class ComponentChoice:
    slug: str
    name: str
    kind: str
    version: str
    order_weight: int
    fragment: str
    final_fragment: str = ""
    parameters: tuple = ()
    values: dict = field(default_factory=dict)
    requires: tuple = ()
    conflicts: tuple = ()
    os_families: tuple = ()


@dataclass(frozen=True)
class Artifact:
    filename: str
    sha256: str


@dataclass(frozen=True)
class RecipeSnapshot:
    base_reference: str  # repository@digest as FROM will use it
    base_os_family: str
    components: tuple[ComponentChoice, ...]
    artifact: Artifact | None = None
    image_script: bytes = b""  # the checked .paas/image-env.sh, run with no network before the final USER
    image_script_origin: str = ""  # "" (the package) or "team script <name> v<n>", recorded in stage 2
    build_stage: BuildStage | None = None  # .paas/build-env.sh and/or a build command: the artifact is built first
    scripts_network: bool = False  # the team was granted network access for its .paas scripts
    shared_packages: tuple[str, ...] = ()  # popular apt packages, most used first: a layer each (apt_merge)


@dataclass
class Composition:
    dockerfile: str
    context_files: dict[str, bytes]  # path in the build context -> bytes (the artifact is added by the worker)
    order: list[str]
    # With a user script, a second Dockerfile runs it FROM the first stage's image, built with no
    # network (the legacy builder cannot turn the network off for a single step).
    script_stage: str = ""
    # With a build stage, a Dockerfile run first on the package; stage one copies its output only.
    build_stage: str = ""

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256((self.dockerfile + self.script_stage + self.build_stage).encode())
        for path in sorted(self.context_files):
            digest.update(path.encode() + b"\0" + self.context_files[path] + b"\0")
        return digest.hexdigest()


def artifact_filename_check(name: str) -> str:
    if not SAFE_FILENAME.fullmatch(name) or ".." in name:
        raise CompositionError(
            f"artifact file name {name!r}: use letters, digits, '.', '_' and '-' only (at most 128)."
        )
    return name


def canonical_order(components) -> list[ComponentChoice]:
    """Options before services, lower weight first, ties by slug; a requirement always comes first."""
    remaining = sorted(components, key=lambda c: (KIND_RANK.get(c.kind, 9), c.order_weight, c.slug))
    chosen = {c.slug for c in components}
    placed: list[ComponentChoice] = []
    while remaining:
        for candidate in remaining:
            needs = [r for r in candidate.requires if r in chosen]
            if all(any(p.slug == r for p in placed) for r in needs):
                break
        else:
            raise CompositionError("components require each other in a cycle: " + ", ".join(c.slug for c in remaining))
        placed.append(candidate)
        remaining.remove(candidate)
    return placed


def selection_check(snapshot: RecipeSnapshot) -> None:
    """Requirements, conflicts and OS compatibility, with messages that say what to change."""
    errors = {}
    chosen = {c.slug: c for c in snapshot.components}
    for c in snapshot.components:
        for needed in c.requires:
            if needed not in chosen:
                errors[c.slug] = f"{c.name} needs {needed}; tick it too."
        for other in c.conflicts:
            if other in chosen:
                errors[c.slug] = f"{c.name} cannot be combined with {chosen[other].name}."
        if c.os_families and snapshot.base_os_family not in c.os_families:
            errors[c.slug] = f"{c.name} is not available on {snapshot.base_os_family} bases ({', '.join(c.os_families)} only)."
    if errors:
        raise CompositionError("The selection is not consistent.", errors)


def _render(choice: ComponentChoice, text: str, values: dict, files: dict[str, bytes]) -> str:
    specs = {s["name"]: s for s in choice.parameters}

    def substitute(match):
        name = match.group(1)
        value = values[name]
        if specs[name]["type"] == "pem":
            path = f"params/{choice.slug}/{name}.pem"
            files[path] = value.encode()
            return path
        if specs[name]["type"] in ("integer", "port"):
            return value  # validated digits: quoting would break EXPOSE
        return shlex.quote(value)

    return PLACEHOLDER.sub(substitute, text).strip()


def compose(snapshot: RecipeSnapshot) -> Composition:
    """The Dockerfile and context files for one recipe snapshot."""
    selection_check(snapshot)
    ordered = canonical_order(snapshot.components)
    files: dict[str, bytes] = {}
    errors = {}
    rendered = []
    for choice in ordered:
        values, bad = parameters_clean(list(choice.parameters), choice.values)
        if bad:
            errors.update({f"{choice.slug}.{name}": message for name, message in bad.items()})
            continue
        rendered.append((choice, values))
    if errors:
        raise CompositionError("Some parameters are not valid.", errors)

    lines = [
        "# Generated by the image portal from a recipe; change the recipe, not this file.",
        f"FROM {snapshot.base_reference}",
    ]
    # Services (runtimes) get the lowest apt layer of their own: see apt_merge for why.
    merged = apt_merge([_render(choice, choice.fragment, values, files) for choice, values in rendered],
                       tiers=[0 if choice.kind == "service" else 1 for choice, _ in rendered],
                       shared_first=snapshot.shared_packages)
    for run, alone, sources in zip(merged.runs, merged.shared, merged.sources):
        note = (f"# {alone}: used by many recipes on this base, so it has a layer of its own that they share" if alone
                else "# apt packages in one transaction (shared by every recipe needing the same ones)")
        wanted_by = contributors_note([(rendered[i][0].kind, rendered[i][0].slug) for i in sources])
        lines += ["", note, wanted_by, run]
    for (choice, _), fragment in zip(rendered, merged.fragments):
        note = "" if fragment else " (its packages are installed above)"
        lines += ["", component_note(choice.kind, choice.slug, choice.version, note)] + ([fragment] if fragment else [])
    build_stage = ""
    if snapshot.build_stage is not None:
        if not snapshot.artifact:
            raise CompositionError("A build stage needs a code package.", {"artifact": "Attach the code package to build."})
        artifact_filename_check(snapshot.artifact.filename)
        try:
            build_stage = build_stage_compose(snapshot.build_stage, files)
            lines += ["", f"# package {snapshot.artifact.filename} sha256:{snapshot.artifact.sha256}",
                      *build_output_copy(snapshot.build_stage, ARTIFACT_DIR)]
        except BuildStageError as error:
            raise CompositionError(str(error), {error.field: str(error)})
    elif snapshot.artifact:
        name = artifact_filename_check(snapshot.artifact.filename)
        lines += ["", f"# artifact sha256:{snapshot.artifact.sha256}", f"COPY artifact/{name} {ARTIFACT_DIR}/{name}"]
    final = []
    for choice, values in rendered:
        if choice.final_fragment.strip():
            final += ["", component_note(choice.kind, choice.slug, choice.version, " (final)"), _render(choice, choice.final_fragment, values, files)]
    script_stage = ""
    if snapshot.image_script:
        files[IMAGE_SCRIPT] = snapshot.image_script
        network = "with the network access granted to the team" if snapshot.scripts_network else "with no network"
        script_stage = "\n".join([
            f"# Stage 2, built {network}: the team's .paas/image-env.sh, then the final settings.",
            f"FROM {STAGE_ONE}",
            *([f"# .paas/image-env.sh from the {snapshot.image_script_origin}, "
               f"sha256:{hashlib.sha256(snapshot.image_script).hexdigest()}"] if snapshot.image_script_origin else []),
            f"COPY {IMAGE_SCRIPT} /tmp/portal-paas/image-env.sh",
            "RUN sh /tmp/portal-paas/image-env.sh && rm -rf /tmp/portal-paas",
            *final,
        ]) + "\n"
    else:
        lines += final
    return Composition(dockerfile="\n".join(lines) + "\n", context_files=files, order=[c.slug for c, _ in rendered],
                       script_stage=script_stage, build_stage=build_stage)

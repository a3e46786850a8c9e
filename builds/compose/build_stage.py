"""The build stage of a recipe: the team's code package, `.paas/build-env.sh` and build command run
in a throw-away image, and the image stage receives only the build output. Pure: no ORM, no Docker.

The legacy builder cannot switch the network off for one step, so the build stage is its own build
(run with network_mode "none" unless the team was granted network access), like the image-env stage.
Everything a user typed reaches this Dockerfile either as JSON (the build command, in exec form, so
no shell reads the words) or after a strict alphabet check (the output path and the package's top
folder); line breaks and control characters are refused outright.
"""
import hashlib
import json
import re
from dataclasses import dataclass

BUILD_SCRIPT = "paas/build-env.sh"
PACKAGE_DIR = "package"  # where the worker unpacks the checked package in the build-stage context
SOURCE_DIR = "/src"
BUILD_STAGE = "portal-build-stage"  # replaced by the build stage's image id when the worker builds stage 1
STAGE_LABEL = "io.image-portal.build-stage"
STAGE_LABEL_VALUE = "portal-build-id"  # replaced by the build's id: every stage layer carries it, so cleanup finds them all
MAX_COMMAND_WORDS = 64
MAX_COMMAND_BYTES = 8 * 1024
MAX_OUTPUT_PARTS = 16
# A path segment that means the same thing to COPY, to a shell and to a reader: no globs, no `$`
# (COPY substitutes variables), no spaces, no quotes.
_SEGMENT = re.compile(r"[A-Za-z0-9._-]{1,128}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class BuildStageError(ValueError):
    """A build setting cannot be used; `field` names the recipe field, the message says why."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class BuildStage:
    """What the build stage needs, already resolved: the scripts are the checked bytes to run."""

    base_reference: str  # repository@digest of an approved base
    script: bytes = b""  # .paas/build-env.sh (the package's, or the team's shared script)
    script_origin: str = ""  # "package" or "team script <name> v<n>", for the record in the Dockerfile
    command: tuple[str, ...] = ()  # argv, run without a shell (a string command arrives as sh -c)
    output: str = ""  # relative path of the build output in the project; "" = the whole project
    package_root: str = ""  # "" or "app-1.0/": the folder holding the project inside the package
    network: bool = False


def build_command_clean(value) -> tuple[str, ...]:
    """A build command as argv. A string is the team's own shell code, run by `sh -c`; a list is
    run as it is. Either way the words reach the Dockerfile as JSON, never through a shell."""
    if value in (None, "", [], ()):
        return ()
    if isinstance(value, str):
        argv = ("sh", "-c", value.strip())
    elif isinstance(value, (list, tuple)) and all(isinstance(word, str) for word in value):
        argv = tuple(value)
    else:
        raise BuildStageError("build_command", "Give the build command as text or as a list of words.")
    if not argv[-1] or not argv[0].strip():
        raise BuildStageError("build_command", "The build command is empty.")
    if len(argv) > MAX_COMMAND_WORDS:
        raise BuildStageError("build_command", f"The build command has more than {MAX_COMMAND_WORDS} words.")
    if sum(len(word.encode()) for word in argv) > MAX_COMMAND_BYTES:
        raise BuildStageError("build_command", f"The build command is longer than {MAX_COMMAND_BYTES // 1024} KiB.")
    if any(_CONTROL.search(word) for word in argv):
        raise BuildStageError("build_command", "The build command may not contain line breaks or control characters; "
                                               "put several steps in .paas/build-env.sh or a Makefile.")
    return argv


def relative_path_clean(value: str, field: str = "build_output") -> str:
    """A path inside the project, as a clean relative path ("" = the project itself)."""
    value = (value or "").strip()
    if not value:
        return ""
    parts = [part for part in value.rstrip("/").split("/")]
    if value.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise BuildStageError(field, f"{value!r}: give a path inside the project, such as dist/app.jar "
                                     "(no leading '/', no '.' or '..' parts, no empty parts).")
    if len(parts) > MAX_OUTPUT_PARTS or not all(_SEGMENT.fullmatch(part) for part in parts):
        raise BuildStageError(field, f"{value!r}: use letters, digits, '.', '_' and '-' in each part "
                                     f"(at most {MAX_OUTPUT_PARTS} parts of 128).")
    return "/".join(parts)


def build_stage_compose(stage: BuildStage, files: dict[str, bytes]) -> str:
    """The build stage's Dockerfile; its script is added to `files` (the build context)."""
    command = build_command_clean(list(stage.command))
    root = relative_path_clean(stage.package_root, "artifact")
    project = f"{SOURCE_DIR}/{root}" if root else SOURCE_DIR
    network = "with the network access granted to the team" if stage.network else "with no network"
    steps = ["the code package"] + ["the team's .paas/build-env.sh"] * bool(stage.script) + ["the build command"] * bool(command)
    lines = [
        f"# Build stage, built {network}: " + ", then ".join(steps) + ".",
        "# Its image is removed after use; the image stage receives only the build output.",
        f"FROM {stage.base_reference}",
        f"LABEL {STAGE_LABEL}={STAGE_LABEL_VALUE}",
        f"COPY {PACKAGE_DIR}/ {SOURCE_DIR}/",
        f"WORKDIR {project}",
    ]
    if stage.script:
        files[BUILD_SCRIPT] = stage.script
        lines += [
            f"# .paas/build-env.sh from the {stage.script_origin or 'package'}, sha256:{hashlib.sha256(stage.script).hexdigest()}",
            f"COPY {BUILD_SCRIPT} /tmp/portal-paas/build-env.sh",
            "RUN " + json.dumps(["sh", "/tmp/portal-paas/build-env.sh"]),
        ]
    if command:
        lines += ["# the team's build command", "RUN " + json.dumps(list(command))]
    return "\n".join(lines) + "\n"


def build_output_copy(stage: BuildStage, artifact_dir: str) -> list[str]:
    """The image stage's lines that take the build output from the build stage's image."""
    root = relative_path_clean(stage.package_root, "artifact")
    output = relative_path_clean(stage.output)
    source = "/".join(part for part in (SOURCE_DIR, root, output) if part)
    target = f"{artifact_dir}/{output.rsplit('/', 1)[-1]}" if output else f"{artifact_dir}/"
    if not output:
        source += "/"  # the project folder's contents, not the folder itself
    return [f"# build output: {output or 'the whole project'} from the build stage",
            f"COPY --from={BUILD_STAGE} {source} {target}"]

"""Which build step made a layer, for the evidence of the privilege rules. Pure.

The image says it first: each history entry of its config that made a layer (`empty_layer`
unset) is one layer, in order, and its `created_by` is the step as the legacy builder ran it
(`|1 A=b /bin/sh -c <command>` for RUN, `/bin/sh -c #(nop) COPY file:<hash> in <dest>` for COPY
and ADD, `... WORKDIR <dir>`). That step is then matched to a line of what the build ran (the
Build row's Dockerfile and, for composed recipes, the stage that runs .paas/image-env.sh), in
order: RUN by its command, COPY/ADD by destination, WORKDIR by directory. Best effort, and said
so: a step that matches no line is quoted from the history instead. What a RUN step's script
did inside is not known: only that the layer came from that step.
"""
from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass

from dockerfile_parse import DockerfileParser

from builds.compose.apt_merge import transaction_from_lists

IMAGE_SCRIPT_MARK = "/tmp/portal-paas/image-env.sh"  # where the composer's stage 2 runs the team's script
_NOP = "#(nop) "
_LAYER_KEYWORDS = {"RUN", "COPY", "ADD", "WORKDIR"}  # the legacy builder makes a layer for these only
_SPACE = re.compile(r"\s+")
# The composer's apt transaction (builds/compose/apt_merge.py), as its RUN key reads once squashed.
_TRANSACTION = re.compile(r"apt-get update && apt-get install -y --no-install-recommends ([^&|;]+?) && rm -rf /var/lib/apt/lists/\*")


@dataclass(frozen=True)
class BuildSource:
    """What the build ran, as its Build row recorded it."""

    dockerfile: str = ""
    script_stage: str = ""  # composed recipes: stage 2, running .paas/image-env.sh
    own_dockerfile: bool = False  # the team wrote the Dockerfile (its comments are theirs, not ours)


@dataclass(frozen=True)
class Instruction:
    keyword: str
    key: str  # RUN: the command as the history shows it; COPY/ADD: the destination; WORKDIR: the directory
    where: str  # "Dockerfile line 4", "stage 2 line 5"
    text: str  # the instruction's first line
    note: str  # the comment nearest above it (composed recipes), or ""


def layer_steps(config: dict) -> list[str]:
    """`created_by` of each layer's history entry, bottom layer first."""
    return [str(step.get("created_by") or "") for step in config.get("history") or [] if not step.get("empty_layer")]


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _step(created_by: str) -> tuple[str, str]:
    """(keyword, key) of a history entry, comparable with `Instruction`'s."""
    text = _squash(created_by)
    if _NOP in text:
        keyword, _, value = text.split(_NOP, 1)[1].partition(" ")
        keyword = keyword.upper()
        if keyword in ("COPY", "ADD"):
            return keyword, value.rpartition(" in ")[2].strip()
        return keyword, value.strip()
    return "RUN", text


def _run_key(value: str) -> str:
    if value.lstrip().startswith("["):
        try:
            argv = json.loads(value)
            if isinstance(argv, list) and all(isinstance(word, str) for word in argv):
                return _squash(" ".join(argv))
        except ValueError:
            pass
    return _squash(value)


def _destination(value: str) -> str:
    value = value.strip()
    if value.startswith("["):
        try:
            words = json.loads(value)
            if isinstance(words, list) and words and isinstance(words[-1], str):
                return words[-1]
        except ValueError:
            pass
    words = value.split()
    return words[-1] if words else ""


def _instructions(text: str, label: str, *, final_stage_only: bool, with_notes: bool) -> list[Instruction]:
    if not text.strip():
        return []
    lines = text.split("\n")
    structure = DockerfileParser(fileobj=io.BytesIO(text.encode())).structure
    if final_stage_only:
        starts = [i for i, item in enumerate(structure) if item["instruction"].upper() == "FROM"]
        structure = structure[starts[-1]:] if starts else structure
    found = []
    for item in structure:
        keyword = item["instruction"].upper()
        if keyword not in _LAYER_KEYWORDS:
            continue
        value = item["value"]
        key = _run_key(value) if keyword == "RUN" else _destination(value) if keyword in ("COPY", "ADD") else value.strip()
        note = _note_above(lines, item["startline"]) if with_notes else ""
        found.append(Instruction(keyword, key, f"{label} line {item['startline'] + 1}",
                                 lines[item["startline"]].strip()[:120], note))
    return found


def _note_above(lines: list[str], start: int) -> str:
    """The nearest comment above an instruction: the composer names each component's lines."""
    for line in reversed(lines[:start]):
        if line.startswith("# "):
            return line[2:].strip()
        if line.startswith("FROM "):
            return ""
    return ""


def _run_forms(instruction: Instruction) -> list[str]:
    """The commands a RUN line may have run as: itself, and for the composer's apt transaction the
    form the worker rewrites it to when it copies the package lists in (builds/runner/apt_index.py)."""
    if not instruction.key:
        return []
    transaction = _TRANSACTION.fullmatch(instruction.key)
    if transaction is None:
        return [instruction.key]
    rewritten = transaction_from_lists(transaction.group(1))[len("RUN "):]
    return [instruction.key, _squash(rewritten.replace("\\\n", " "))]


def _matches(instruction: Instruction, step: tuple[str, str]) -> bool:
    keyword, key = step
    if instruction.keyword == "RUN":
        # The history prefixes the command with build arguments and the shell (`/bin/sh -c`).
        return keyword == "RUN" and any(key == command or key.endswith(" " + command) for command in _run_forms(instruction))
    if instruction.keyword != keyword:
        return False
    return key.rstrip("/") == instruction.key.rstrip("/") if keyword in ("COPY", "ADD") else key == instruction.key


class LayerOrigins:
    """`describe(layer)`: "layer 3: Dockerfile line 4: RUN chmod 4755 /bin/busybox" and the like.
    The Dockerfile is parsed on the first `describe`: a passing image (most re-evaluations) never needs it."""

    def __init__(self, config: dict, source: BuildSource | None, base_layers: int):
        self.steps = layer_steps(config)
        self.base_layers = base_layers
        self.source = source
        self._found: dict[int, Instruction] | None = None

    @property
    def found(self) -> dict[int, Instruction]:
        if self._found is None:
            self._found = self._match() if self.source is not None else {}
        return self._found

    def _match(self) -> dict[int, Instruction]:
        source, found = self.source, {}
        instructions = _instructions(source.dockerfile, "Dockerfile", final_stage_only=True,
                                     with_notes=not source.own_dockerfile)
        instructions += _instructions(source.script_stage, "stage 2", final_stage_only=True, with_notes=True)
        position = 0
        for layer in range(self.base_layers, len(self.steps)):
            step = _step(self.steps[layer])
            # In order first: the same command twice maps to its two lines, not both to the first.
            index = next((i for i in range(position, len(instructions)) if _matches(instructions[i], step)), None)
            if index is not None:
                position = index + 1
            else:
                index = next((i for i in range(len(instructions)) if _matches(instructions[i], step)), None)
            if index is not None:
                found[layer] = instructions[index]
        return found

    def instruction(self, layer: int) -> Instruction | None:
        """The line of what the build ran that made this layer above the base, when one matches."""
        return self.found.get(layer) if layer >= self.base_layers else None

    def describe(self, layer: int | None) -> str:
        if layer is None:
            return "layer unknown"
        if layer < self.base_layers:
            return f"layer {layer} (the approved base)"
        instruction = self.found.get(layer)
        if instruction is not None:
            script = "the .paas/image-env.sh stage, " if IMAGE_SCRIPT_MARK in instruction.text else ""
            note = f" ({instruction.note[:160]})" if instruction.note else ""
            return f"layer {layer}: {script}{instruction.where}{note}: {instruction.text}"
        if layer < len(self.steps) and self.steps[layer]:
            return f"layer {layer}: `{_squash(self.steps[layer])[:120]}` (from the image's history; no line of " \
                   "this build's Dockerfile matches it)"
        return f"layer {layer}"

"""What added a package, named for people: "base Debian 12", "option wget 1", "service JaCoCo
coverage agent 0.8.6-1", ".paas/image-env.sh", "Dockerfile line 7: RUN apt-get install -y curl". Pure.

A package knows the layer that added it (compliance/sbom/origin.py); LayerOrigins knows the line of
the build's Dockerfile that made each layer and the composer's comment above it
(builds/compose/notes.py names the component). A layer no line matches (an image built before
the portal recorded its Dockerfile, squashed layers) keeps the plain "added (layer N)": a guess
would send a team to fix the wrong component.
"""
from __future__ import annotations

from dataclasses import dataclass

from builds.compose.notes import note_components
from compliance.policy.provenance import IMAGE_SCRIPT_MARK, Instruction, LayerOrigins

# kind -> how the report's origin filter names it, in the order it offers them
KINDS = {
    "base": "From the base image",
    "option": "Added by options",
    "service": "Added by services",
    "script": "Added by your .paas scripts or build",
    "package": "In your code package",
    "dockerfile": "Added by your Dockerfile",
    "unknown": "Origin not known",
}


@dataclass(frozen=True)
class Origin:
    kind: str  # a key of KINDS
    label: str


@dataclass(frozen=True)
class Component:
    kind: str
    name: str
    version: str

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name} {self.version}".strip()


class OriginLabels:
    """`of(layer)` for every finding of one image; each layer is named once (the Dockerfile is
    parsed on the first layer above the base, as LayerOrigins does)."""

    def __init__(self, origins: LayerOrigins, *, base_name: str, components: dict[str, Component]):
        self.origins, self.base_name, self.components = origins, base_name, components
        self._of: dict[int | None, Origin] = {}

    def of(self, layer: int | None) -> Origin:
        if layer not in self._of:
            self._of[layer] = self._name(layer)
        return self._of[layer]

    def layers_by_kind(self) -> dict[str, list[int]]:
        """The image's layers grouped by kind (for the filter); layers beyond its history are unknown."""
        grouped: dict[str, list[int]] = {kind: [] for kind in KINDS}
        for layer in range(max(len(self.origins.steps), self.origins.base_layers)):
            grouped[self.of(layer).kind].append(layer)
        return grouped

    def _name(self, layer: int | None) -> Origin:
        if layer is None:
            return Origin("unknown", "layer unknown")
        if layer < self.origins.base_layers:
            return Origin("base", f"base {self.base_name}".strip())
        instruction = self.origins.instruction(layer)
        if instruction is None:
            return Origin("unknown", f"added (layer {layer})")
        return self._named(instruction) or Origin("unknown", f"added (layer {layer}, {instruction.where})")

    def _named(self, instruction: Instruction) -> Origin | None:
        note = instruction.note
        if IMAGE_SCRIPT_MARK in instruction.text:
            # the composer's note above stage 2: ".paas/image-env.sh from the team script tools v2, sha256:..."
            return Origin("script", note.split(",")[0] if note.startswith(".paas/image-env.sh") else ".paas/image-env.sh")
        if self.origins.source is not None and self.origins.source.own_dockerfile:
            return Origin("dockerfile", f"{instruction.where}: {instruction.text}")
        named = [self._component(kind, slug) for kind, slug in note_components(note)]
        if named:
            # Options' packages join the services' transaction only when a service needs them too.
            kind = "service" if any(c.kind == "service" for c in named) else "option"
            return Origin(kind, ", ".join(c.label for c in sorted(named, key=lambda c: c.kind != kind)))
        if note.startswith("build output:"):
            return Origin("script", "build stage output " + note[len("build output:"):].split(" from the build stage")[0].strip())
        if note.startswith("artifact sha256:") and instruction.keyword in ("COPY", "ADD"):
            return Origin("package", "code package " + instruction.key.rstrip("/").rpartition("/")[2])
        return None

    def _component(self, kind: str, slug: str) -> Component:
        return self.components.get(slug) or Component(kind, slug, "")

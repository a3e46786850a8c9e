"""Read what an image contains from its layers: OS release, packages (dpkg, apk, Python,
Java, npm) with the layer that installed them, users, secrets in every layer, and what the
privilege rules read (accounts and groups, setuid/capability/world-writable files).

Pure parsing (`layers`/`overlay`, `dpkg`, `apk`, `python`, `java`, `npm`, `os_release`,
`passwd`, `accounts`, `special`, `origin`, `secret_rules`, `purl`) takes bytes and text; `facts` turns layer
streams into `ImageFacts`, through `collect` (packages and secrets of each layer's files) and
`layer_record` (what a layer gave, kept so a layer read once is replayed rather than read again);
only `reader` talks to a registry, through the client it is given, and `docker_save` reads a
`docker save` tar. `cyclonedx` exports the result.
"""
from compliance.sbom.models import ImageFacts, Package, SecretFinding

__all__ = ["ImageFacts", "Package", "SecretFinding"]

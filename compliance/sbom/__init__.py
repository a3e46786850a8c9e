"""Read what an image contains from its layers: OS release, dpkg packages, users.

Pure parsing (`layers`, `dpkg`, `os_release`, `passwd`) takes bytes and text; only
`reader` talks to a registry, through the client it is given.
"""
from compliance.sbom.models import ImageFacts, Package

__all__ = ["ImageFacts", "Package"]

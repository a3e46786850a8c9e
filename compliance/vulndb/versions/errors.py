"""Errors shared by the version comparators (re-exported by the package)."""


class InvalidVersion(ValueError):
    """A version string that its ecosystem's rules cannot order."""


class UnsupportedEcosystem(ValueError):
    """An OSV ecosystem we have no version ordering for."""

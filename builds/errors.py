"""The errors of the builds app, each with what the user is told. Pure: no Django.

`CompositionError` is refused input (a recipe that cannot be composed or saved); the others end a
running build. A build failure carries an error code such as `build:user:step-failed` (the user's
Dockerfile step failed) or `build:app:engine` (our side), so pages and metrics can tell them apart.
"""


class CompositionError(ValueError):
    """The recipe cannot be composed; the message says why, in the user's terms; `errors` maps
    form fields to their message."""

    def __init__(self, message, errors=None):
        super().__init__(message)
        self.errors = errors or {}


class StepFailed(Exception):
    """A build step failed: `code` (e.g. build:user:step-failed), the message, and the Dockerfile
    step that failed when there is one."""

    def __init__(self, code: str, message: str, failed_step: str = ""):
        super().__init__(message)
        self.code, self.message, self.failed_step = code, message, failed_step


class BuildCancelled(Exception):
    """The build's cancel was requested; the running step was stopped."""


class TeamAtCapacity(Exception):
    """The team already runs its maximum of builds; the task tries again a little later."""

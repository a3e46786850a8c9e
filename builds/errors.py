"""The errors of the builds app, each with what the user is told. Pure: no Django.

`CompositionError` is refused input (a recipe that cannot be composed or saved); the others end a
running build. A build failure carries an error code such as `build:user:step-failed` (the user's
Dockerfile step failed) or `build:app:engine` (our side), so pages and metrics can tell them apart.
Every code has advice (FAILURE_ADVICE): what the user can do next, added to the message the build
page and the API show.
"""

# What to do, per failure code. "" means the message spelled where the code is raised already ends
# with what to do (it needs the failure's details, e.g. which registry); tests keep every code
# used in the source listed here.
FAILURE_ADVICE = {
    "build:user:step-failed": "The last lines of the log show the command's own error: fix the recipe (its options, "
                              "Dockerfile or package scripts) and build again.",
    "build:user:out-of-memory": "Make the step use less memory (fewer parallel jobs, a smaller heap such as -Xmx), "
                                "or ask a platform admin for a larger limit (setting BUILD_MEMORY_BYTES).",
    "build:user:deadline": "The log shows which step was running: make it faster, or ask a platform admin for a longer "
                           "deadline (setting BUILD_DEADLINE_SECONDS).",
    "build:user:context": "Attach the build context archive (tar, tar.gz or zip) to the recipe again and build again.",
    "build:user:invalid-name": "Rename the image in the recipe and build again.",
    "build:user:cancelled": "Nothing was published; build again when you want the image.",
    "build:app:engine": "This is on the platform's side, not in your recipe: build again; if it fails again, tell the "
                        "platform team the build number.",
    "build:app:push": "Nothing was published. Build again; if the push fails again, tell the platform team the build number.",
    "build:app:crash": "This is a fault in the portal, not in your recipe: build again; if it fails again, tell the "
                       "platform team the build number.",
    "scan:app:failed": "The image stays in quarantine, nothing was published. Build again; if the scan fails again, "
                       "tell the platform team the build number.",
    "build:app:base-pull": "",
    "build:app:build-network": "",
    "build:app:registry-unreachable": "",
    "build:app:worker-lost": "",
    "publish:app:registry": "",
    "publish:app:registry-unreachable": "",
}


def failure_message(code: str, message: str) -> str:
    """The message with the code's advice after it (once, and never for an unknown code)."""
    advice = FAILURE_ADVICE.get(code, "")
    if not advice or advice in message:
        return message
    return f"{message.rstrip()} {advice}" if message.rstrip().endswith((".", ":", "!", "?")) else f"{message.rstrip()}. {advice}"


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

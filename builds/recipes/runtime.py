"""How a recipe's image is meant to run: privileged mode and added Linux capabilities. Pure: no
Django. Recorded on each build (`runtime_snapshot`) and checked by the runtime-privileges rule."""
from typing import Any

from builds.errors import CompositionError

# capabilities(7) as of Linux 6.x, in Docker's spelling (without the CAP_ prefix). "ALL" is what
# `docker run --cap-add ALL` accepts.
LINUX_CAPABILITIES = frozenset({
    "AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE", "CHOWN",
    "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE",
    "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_RAW", "PERFMON", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT",
    "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME",
    "SYS_TTY_CONFIG", "SYSLOG", "WAKE_ALARM", "ALL",
})


class CapabilityError(ValueError):
    """Names that are not Linux capabilities; the message says which."""


def capability_name(value: Any) -> str | None:
    """Docker's spelling of a capability ("cap_net_admin" -> "NET_ADMIN"), or None if unknown."""
    if not isinstance(value, str):
        return None
    name = value.strip().upper()
    name = name[4:] if name.startswith("CAP_") else name
    return name if name in LINUX_CAPABILITIES else None


def capabilities_clean(values: Any) -> list[str]:
    """A list of capability names, canonical and sorted; raises CapabilityError naming the bad ones."""
    if not isinstance(values, list) or len(values) > len(LINUX_CAPABILITIES):
        raise CapabilityError("Give a list of Linux capability names, e.g. [\"NET_BIND_SERVICE\"].")
    names, unknown = set(), []
    for value in values:
        name = capability_name(value)
        if name is None:
            unknown.append(str(value)[:40])
        else:
            names.add(name)
    if unknown:
        raise CapabilityError(f"Not Linux capabilities: {', '.join(unknown[:5])}. "
                              "Use names such as NET_BIND_SERVICE or CAP_CHOWN (see capabilities(7)).")
    return sorted(names)


def runtime_clean(runtime: dict) -> dict:
    """{"privileged": bool, "cap_add": [capability names]} in canonical form, or CompositionError."""
    if not isinstance(runtime, dict) or set(runtime) - {"privileged", "cap_add"}:
        raise CompositionError("Runtime settings are privileged and cap_add.", {"runtime": "unknown settings"})
    privileged = runtime.get("privileged", False)
    if not isinstance(privileged, bool):
        raise CompositionError("privileged is true or false.", {"privileged": "true or false"})
    try:
        cap_add = capabilities_clean(runtime.get("cap_add") or [])
    except CapabilityError as error:
        raise CompositionError(str(error), {"cap_add": str(error)})
    return {"privileged": privileged, "cap_add": cap_add}


def runtime_snapshot(recipe) -> dict:
    """How the image is meant to run, as the build records it (the runtime-privileges rule reads it).
    Not part of the composition: it does not change the image, so builds may still share it."""
    return {"privileged": recipe.privileged, "cap_add": list(recipe.cap_add)}

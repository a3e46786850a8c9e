"""Build and push with the low-level docker SDK, streaming every log line as it arrives."""
import io
import re
import tarfile
import threading
import time
from dataclasses import dataclass
from typing import Callable

import docker
from django.conf import settings
from docker.errors import APIError, DockerException

from adapters.retry import Backoff

STEP_LINE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
RUNNING_IN = re.compile(r"^ ---> Running in ([0-9a-f]{12,64})")
BUILD_LABEL = "io.image-portal.build"


class EngineError(Exception):
    """The engine or the build failed; `user_error` tells a failing Dockerfile step from an outage."""

    def __init__(self, message: str, *, user_error: bool = False, failed_step: str = "", cancelled: bool = False,
                 timed_out: bool = False, out_of_memory: bool = False):
        super().__init__(message)
        self.user_error = user_error
        self.failed_step = failed_step
        self.cancelled = cancelled
        self.timed_out = timed_out
        self.out_of_memory = out_of_memory


def engine_client() -> docker.APIClient:
    try:
        kwargs = {"base_url": settings.DOCKER_HOST} if settings.DOCKER_HOST else {}
        return docker.APIClient(version="auto", timeout=120, **kwargs)
    except DockerException as error:
        raise EngineError(f"Docker Engine unreachable ({error}); start it with `make services`.")


def engine_ping(*, timeout: float) -> str:
    """The engine's version if it answers within `timeout` seconds (for /readyz); EngineError otherwise."""
    try:
        kwargs = {"base_url": settings.DOCKER_HOST} if settings.DOCKER_HOST else {}
        # A fixed API version: "auto" would spend a request (and the timeout) asking for it.
        api = docker.APIClient(version="1.41", timeout=timeout, **kwargs)
        try:
            return api.version(api_version=False).get("Version", "?")
        finally:
            api.close()
    except DockerException as error:
        raise EngineError(f"Docker Engine unreachable: {error}") from None
    except OSError as error:  # a timeout or a refused socket below the SDK
        raise EngineError(f"Docker Engine unreachable: {error}") from None


def build_limits() -> dict:
    """Memory and CPU limits for every build step's container (user fragments run in them)."""
    return {
        "memory": settings.BUILD_MEMORY_BYTES,
        "memswap": settings.BUILD_MEMORY_BYTES,  # no swap beyond the memory limit
        "cpushares": settings.BUILD_CPU_SHARES,
    }


def memory_mib(limit_bytes: int) -> int:
    return limit_bytes // (1024 * 1024)


# The legacy builder's words for a RUN step that failed, and for one whose process was killed (SIGKILL).
STEP_EXIT = re.compile(r"returned a non-zero code: (\d+)")


def _step_out_of_memory(api, container_id: str, since: int, exit_code: int) -> bool:
    """Whether the engine's OOM killer struck in the failed step's container.

    The builder has already removed the container (forcerm) when it reports the failure, so its
    State.OOMKilled is gone; the engine's event log still holds the container's `oom` event (also
    when the OOM killer hit a child process and the step then failed with another exit code). When
    the events cannot be read, exit 137 (SIGKILL) under a memory limit is taken as out of memory:
    our own kills, cancel and deadline, are told apart before this is asked, and nothing else kills."""
    killed_under_limit = exit_code == 137 and bool(settings.BUILD_MEMORY_BYTES)
    if not container_id:
        return killed_under_limit
    try:
        events = api.events(since=since, until=int(time.time()) + 1, decode=True,  # waits < 1 s: once per failure
                            filters={"type": "container", "container": container_id, "event": "oom"})
        return any((event.get("status") or event.get("Action")) == "oom" for event in events)
    except DockerException:
        return killed_under_limit


def _out_of_memory(step: str) -> EngineError:
    limit = memory_mib(settings.BUILD_MEMORY_BYTES)
    where = f" in {step}" if step else ""
    return EngineError(f"Out of memory (limit {limit} MiB){where}: the engine killed the step when it used more than "
                       f"the {limit} MiB a build step may use.", user_error=True, failed_step=step, out_of_memory=True)


def context_tar(files: dict[str, bytes]) -> bytes:
    """An in-memory build context; fixed mtimes and modes keep it deterministic for the cache."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(files):
            info = tarfile.TarInfo(path)
            info.size = len(files[path])
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(files[path]))
    return buffer.getvalue()


@dataclass
class BuildProgress:
    """Per-run state of one image build (kept off the task object on purpose)."""

    current_step: str = ""
    container_id: str = ""
    timed_out: bool = False
    cancelled: bool = False


def _watchdog(api, progress: BuildProgress, deadline: float, finished: threading.Event, should_stop):
    """Kill the running build container at the deadline or on cancel.

    The SDK's timeout only bounds the gap between two chunks, and the reading loop is blocked while
    a step prints nothing, so this thread checks once a second and kills the step's container;
    the engine then ends the build with an error the loop reads at once.
    """
    while not finished.wait(1.0):
        if not progress.timed_out and time.monotonic() > deadline:
            progress.timed_out = True
        if not progress.cancelled and should_stop():
            progress.cancelled = True
        if (progress.timed_out or progress.cancelled) and progress.container_id:
            try:
                api.kill(progress.container_id)
            except APIError:
                pass  # already gone: the step ended on its own


def _stopped_error(progress: BuildProgress, deadline_seconds: float) -> EngineError | None:
    if progress.cancelled:
        return EngineError("The build was cancelled.", user_error=True, failed_step=progress.current_step, cancelled=True)
    if progress.timed_out:
        return EngineError(f"The build passed its deadline of {int(deadline_seconds)} s and was stopped.",
                           user_error=True, failed_step=progress.current_step, timed_out=True)
    return None


def image_build(
    *,
    context: bytes,
    tag: str,
    build_id: int,
    on_line: Callable[[str], None],
    deadline_seconds: float,
    should_stop: Callable[[], bool] = lambda: False,
    no_cache: bool = False,
    network_mode: str | None = None,
    dockerfile: str | None = None,
    buildargs: dict[str, str] | None = None,
) -> str:
    """Build the context's Dockerfile (or the one named `dockerfile` in it); every output line goes
    to on_line. Returns the image id.

    The package cache reaches builds as the predefined `http_proxy` build arg: the legacy builder
    leaves predefined proxy args out of the cache key and the image history (unless a Dockerfile
    declares them with ARG), so the cache never splits the layer cache."""
    api = engine_client()
    progress = BuildProgress()
    finished = threading.Event()
    watchdog = threading.Thread(
        target=_watchdog,
        args=(api, progress, time.monotonic() + deadline_seconds, finished, should_stop),
        daemon=True,
    )
    watchdog.start()
    image_id = ""
    stream = None
    started = int(time.time()) - 1
    try:
        stream = api.build(
            fileobj=io.BytesIO(context), custom_context=True, decode=True, rm=True, forcerm=True,
            tag=tag, labels={BUILD_LABEL: str(build_id)}, pull=False, timeout=600, nocache=no_cache,
            container_limits=build_limits(), network_mode=network_mode, dockerfile=dockerfile, buildargs=buildargs,
        )
        for event in stream:
            if "stream" in event:
                for line in event["stream"].splitlines():
                    if step := STEP_LINE.match(line):
                        progress.current_step = step.group(0)
                    if running := RUNNING_IN.match(line):
                        progress.container_id = running.group(1)
                    on_line(line)
            elif "aux" in event and "ID" in event["aux"]:
                image_id = event["aux"]["ID"]
            elif "error" in event:
                on_line(event["error"].strip())
                if stopped := _stopped_error(progress, deadline_seconds):
                    raise stopped
                if (failed := STEP_EXIT.search(event["error"])) and _step_out_of_memory(
                        api, progress.container_id, started, int(failed.group(1))):
                    raise _out_of_memory(progress.current_step)
                raise EngineError(event["error"].strip(), user_error=True, failed_step=progress.current_step)
            if stopped := _stopped_error(progress, deadline_seconds):
                raise stopped
    except APIError as error:
        raise EngineError(f"Docker Engine error: {error.explanation or error}", failed_step=progress.current_step)
    except DockerException as error:
        raise EngineError(f"Docker Engine error: {error}", failed_step=progress.current_step)
    finally:
        finished.set()
        if stream is not None:
            stream.close()  # closing the stream makes the daemon stop and remove the build container
    if not image_id:
        raise EngineError("The engine ended the build without an image id.", failed_step=progress.current_step)
    return image_id


# What the engine says when it cannot talk to the registry at all (as opposed to a refusal).
UNREACHABLE = re.compile(r"connection refused|connection reset|broken pipe|no such host|i/o timeout|"
                         r"dial tcp|EOF$|server misbehaving|network is unreachable", re.IGNORECASE)


class RegistryUnreachable(EngineError):
    """The push could not reach the registry (down, restarting, network)."""


def _auth(token: str) -> dict | None:
    """The engine's auth config for a registry bearer token: the engine sends it as it is."""
    return {"registrytoken": token} if token else None


def image_push(*, repository: str, tag: str, on_line: Callable[[str], None], token: Callable[[], str] | None = None,
               attempts: int = 4, first_delay: float = 2.0, sleep: Callable[[float], None] = time.sleep,
               window: float = 0, max_delay: float = 30) -> str:
    """Push with retries and exponential backoff: a registry restart should not fail a build.

    While the registry cannot be reached, the push is tried again for as long as the pauses fit in
    `window` seconds (and at most `attempts` times, 0: no limit); any other failure (the engine
    dropped the stream, a refusal) is tried at most 3 times in all. A failed push publishes nothing
    (the manifest is written last, and a tag points at a manifest only once it is complete), so
    retrying is safe. Each retry is announced through on_line, so the build log shows why the push
    takes longer. `token()` gives a registry token for each attempt (the engine does not renew one
    that expires).
    """
    unreachable = Backoff(first_delay=first_delay, window=window, max_delay=max_delay, attempts=attempts)
    other = Backoff(first_delay=first_delay, max_delay=max_delay, attempts=min(attempts or 3, 3))
    while True:
        try:
            return _push_once(repository=repository, tag=tag, on_line=on_line, token=token)
        except EngineError as error:
            backoff = unreachable if isinstance(error, RegistryUnreachable) else other
            pause = backoff.next_pause()
            if pause is None:
                raise type(error)(f"{error} ({backoff.gave_up()})")
            on_line(f"{error}; retrying in {pause:g} s {backoff.counting()}")
            sleep(pause)


def _push_failure(repository: str, detail: str) -> EngineError:
    registry = repository.split("/", 1)[0]
    if UNREACHABLE.search(detail.strip()):
        return RegistryUnreachable(f"registry unreachable ({registry}): {detail.strip()}")
    return EngineError(f"Push to the registry failed: {detail.strip()}")


def _push_once(*, repository: str, tag: str, on_line: Callable[[str], None], token: Callable[[], str] | None) -> str:
    api = engine_client()
    digest = ""
    last_status = {}
    try:
        for event in api.push(repository, tag=tag, stream=True, decode=True, auth_config=_auth(token() if token else "")):
            if "error" in event:
                raise _push_failure(repository, event["error"])
            if "aux" in event and "Digest" in event["aux"]:
                digest = event["aux"]["Digest"]
            status = event.get("status", "")
            layer = event.get("id", "")
            # Progress events repeat many times per layer; log each layer's state change once.
            if status and last_status.get(layer) != status and not event.get("progressDetail"):
                last_status[layer] = status
                on_line(f"{layer}: {status}" if layer else status)
    except APIError as error:
        raise _push_failure(repository, str(error.explanation or error))
    except DockerException as error:  # the engine itself dropped the stream
        raise EngineError(f"Docker Engine error during the push: {error}")
    if not digest:
        raise EngineError("The registry did not report a digest for the pushed image.")
    return digest


def images_pull(*, references: list[str], token: Callable[[str], str] | None = None) -> list[str]:
    """Make sure the engine holds each `repository@digest` (builds start FROM them and the legacy
    builder would pull without our token); returns those it had to pull. `token(repository)`
    gives a registry token for pulling that repository."""
    api, pulled = engine_client(), []
    for reference in references:
        repository, _, digest = reference.partition("@")
        named, _, tag = repository.rpartition(":")
        if named and "/" not in tag:  # host/repo:tag -> host/repo (a port's colon comes before a slash)
            repository = named
        else:
            tag = ""
        wanted = f"{repository}@{digest}" if digest else (f"{repository}:{tag}" if tag else repository)
        try:
            api.inspect_image(wanted)
            continue
        except docker.errors.ImageNotFound:
            pass
        except DockerException as error:
            raise EngineError(f"Could not look up {reference}: {error}")
        try:
            api.pull(repository, tag=digest or tag or None, auth_config=_auth(token(repository) if token else ""))
        except DockerException as error:
            raise EngineError(f"Could not pull {reference}: {error}")
        pulled.append(reference)
    return pulled


def network_gateway(name: str) -> str | None:
    """The gateway address of a Docker network (where the host answers it), or None without the network."""
    try:
        config = engine_client().inspect_network(name).get("IPAM", {}).get("Config") or []
    except docker.errors.NotFound:
        return None
    except DockerException as error:
        raise EngineError(f"Docker Engine error: {error}")
    return next((entry["Gateway"] for entry in config if entry.get("Gateway")), None)


def image_tag(*, image_id: str, repository: str, tag: str) -> None:
    engine_client().tag(image_id, repository, tag=tag)


def image_remove_local(*, reference: str) -> None:
    """Drop the local tag after the push; the registry keeps the image, layers stay cached."""
    try:
        engine_client().remove_image(reference, noprune=True)
    except APIError:
        pass


# The id line the legacy builder prints after each step (" ---> 0123456789ab").
STEP_RESULT = re.compile(r"^ ---> ([0-9a-f]{12,64})$", re.M)


@dataclass
class StepImage:
    """One finished step of an engine build, read back from the build's log."""

    number: int
    instruction: str
    image_id: str
    run: int  # which engine build of the log (a build stage, stage one, the script stage) it belongs to


def step_images_read(text: str) -> list[StepImage]:
    """The steps a build log shows, in order, with the image each produced; FROM steps (Step 1, and
    each later stage's: a base, a stage or an image id) are left out: never the build's own layer."""
    steps, step, instruction, run = [], 0, "", 0
    for line in text.splitlines():
        if found := STEP_LINE.match(line):
            step, instruction = int(found.group(1)), found.group(3)
            run += step == 1
        elif (found := STEP_RESULT.match(line)) and step > 1 and not instruction.upper().startswith("FROM "):
            steps.append(StepImage(step, instruction, found.group(1), run))
    return steps


def step_images_from_log(text: str) -> list[str]:
    """Ids of the images a build's steps produced, from its log, in order (FROM steps left out)."""
    return [step.image_id for step in step_images_read(text)]


def image_untag_if_ours(*, reference: str, image_ids: set[str]) -> bool:
    """Drop the local name `reference` when it names one of `image_ids` (short or full ids): names
    like portal-build-7 repeat across portal databases sharing an engine, so the name alone does
    not say whose image it is. Parents are kept (the caller removes what it owns)."""
    api = engine_client()
    try:
        found = api.inspect_image(reference)["Id"].removeprefix("sha256:")
    except APIError:
        return False  # no such name
    if not any(found.startswith(image_id) for image_id in image_ids):
        return False
    try:
        api.remove_image(reference, noprune=True)
    except APIError:
        return False
    return True


def image_diff_ids(*, image_id: str) -> list[str]:
    """The image's layers as the engine names them (uncompressed digests, bottom first)."""
    try:
        return list(engine_client().inspect_image(image_id).get("RootFS", {}).get("Layers") or [])
    except DockerException as error:
        raise EngineError(f"Could not read the layers of image {image_id[:19]}: {error}")


def image_tag_keep(*, image_id: str, repository: str) -> str:
    """Give an image a local name (tag: its short id) so the engine keeps it as a named image, not a
    dangling one; returns the reference."""
    tag = image_id.removeprefix("sha256:")[:12]
    try:
        engine_client().tag(image_id, repository, tag=tag)
    except APIError as error:
        raise EngineError(f"Could not name image {tag}: {error.explanation or error}")
    return f"{repository}:{tag}"


def dangling_images_remove(*, image_ids: list[str]) -> list[str]:
    """Remove the given step images that nothing else holds, newest first; returns the ids removed.

    Why: a failed or cancelled build leaves its finished steps as untagged images (the engine's
    build label is only added by the last step, so they cannot be found by label). An image with a
    tag or digest, a child image (a layer another image builds on) or a container (a running
    build's step) is kept: the engine refuses those without force, and we never force. Removing
    one also prunes its untagged parents that nothing else uses.
    """
    api = engine_client()
    removed = []
    for image_id in reversed(list(dict.fromkeys(image_ids))):
        try:
            details = api.inspect_image(image_id)
        except APIError:
            continue  # gone already (pruned as a parent of a newer one)
        if details.get("RepoTags") or details.get("RepoDigests"):
            continue  # by id, the engine would untag a singly tagged image: never ask it to
        try:
            api.remove_image(image_id)
        except APIError:
            continue  # has children or a container: someone else's layer
        removed.append(image_id)
    return removed


def images_with_label(*, label: str, value: str = "") -> list[dict]:
    """Every image (intermediate layers included) carrying the label."""
    wanted = f"{label}={value}" if value else label
    return engine_client().images(all=True, filters={"label": wanted})


def images_remove_with_label(*, label: str, value: str) -> int:
    """Remove the images a throw-away build made (each carries the label from its first step on);
    returns how many there were. Removing the newest also prunes its untagged parents, so the rest
    may already be gone (404). Containers of such a build are already gone (forcerm)."""
    api = engine_client()
    found = images_with_label(label=label, value=value)
    remaining = {image["Id"]: image.get("ParentId", "") for image in found}
    while remaining:
        # Children first (creation times tie within a second): the engine refuses to remove a parent.
        leaves = [image_id for image_id in remaining if image_id not in set(remaining.values())] or list(remaining)
        for image_id in leaves:
            del remaining[image_id]
            try:
                api.remove_image(image_id, force=True)
            except APIError as error:
                if getattr(error, "status_code", None) != 404:
                    raise EngineError(f"Could not remove build-stage image {image_id[:19]}: {error.explanation or error}")
    left = images_with_label(label=label, value=value)
    if left:
        raise EngineError(f"{len(left)} build-stage image(s) could not be removed: {', '.join(i['Id'][:19] for i in left)}")
    return len(found)


def images_named(*, repository: str) -> list[dict]:
    """The engine's images with a name in `repository` (e.g. the layer cache's)."""
    return engine_client().images(name=repository)


def images_remove_forced(*, images: list[dict]) -> list[str]:
    """Remove these images (as `images()` lists them: Id, ParentId), whatever names they have,
    children before parents; returns the ids removed. An image a container or another image still
    uses is left (the engine refuses even with force) and not counted."""
    api = engine_client()
    remaining = {image["Id"]: image.get("ParentId", "") for image in images}
    removed = []
    while remaining:
        leaves = [image_id for image_id in remaining if image_id not in set(remaining.values())] or list(remaining)
        for image_id in leaves:
            del remaining[image_id]
            try:
                api.remove_image(image_id, force=True)
                removed.append(image_id)
            except APIError as error:
                if getattr(error, "status_code", None) not in (404, 409):
                    raise EngineError(f"Could not remove image {image_id[:19]}: {error.explanation or error}")
    return removed


def image_name_drop(*, reference: str) -> None:
    """Drop one local name; its image (and untagged parents) go when no other name or child holds them."""
    try:
        engine_client().remove_image(reference)
    except APIError as error:
        if getattr(error, "status_code", None) not in (404, 409):
            raise EngineError(f"Could not remove {reference}: {error.explanation or error}")


def script_output_in_image(*, image: str, script: str, path: str, label: str, environment: dict, timeout: float,
                           token: Callable[[str], str] | None = None, network: str = "") -> bytes:
    """Run `sh -c script` in a throw-away container of `image` (pulled if the engine lacks it) and
    return `path` from it as a tar (the engine's archive format). The container carries `label`:
    containers of that label left exited by a killed worker are removed first. EngineError when the
    script exits non-zero (with the last lines it printed) or the engine fails."""
    api = engine_client()
    try:
        for leftover in api.containers(all=True, filters={"label": label, "status": "exited"}):
            api.remove_container(leftover["Id"], force=True)
        images_pull(references=[image], token=token)
        container = api.create_container(image=image, command=["sh", "-c", script], environment=environment,
                                         labels={label: "run"},
                                         host_config=api.create_host_config(network_mode=network) if network else None)
    except DockerException as error:
        raise EngineError(f"Docker Engine error: {error}")
    try:
        api.start(container)
        status = api.wait(container, timeout=timeout)["StatusCode"]
        if status != 0:
            tail = api.logs(container, tail=5).decode(errors="replace").strip()
            raise EngineError(f"exit {status}: {tail}", user_error=True)
        stream, _ = api.get_archive(container, path)
        return b"".join(stream)
    except DockerException as error:
        raise EngineError(f"Docker Engine error: {error}")
    finally:
        api.remove_container(container, force=True)

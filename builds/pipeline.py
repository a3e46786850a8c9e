"""What a build worker does for one build: a list of small steps, each recorded as it runs.

Called by the thin Celery task. Idempotent: only a queued build is started, so a duplicate
message does nothing.
"""
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from builds.apt_proxy import apt_proxy_build_args
from builds.engine.docker_engine import EngineError, context_tar, image_build, image_push, image_remove_local, image_tag
from builds.log_mask import LogMasker
from builds.models import Build
from builds.services import build_log_append
from builds.snapshot import registry_host

log = logging.getLogger(__name__)


class StepFailed(Exception):
    def __init__(self, code: str, message: str, failed_step: str = ""):
        super().__init__(message)
        self.code, self.message, self.failed_step = code, message, failed_step


@dataclass
class BuildLog:
    """Buffers log lines and writes them in chunks while the step runs (not at its end).

    Lines arrive on the build thread; the watchdog thread also flushes once a second, so a line
    printed just before a long silent command (a download, a sleep) shows up at once.
    """

    build: Build
    step: str = ""
    pending: list[str] = field(default_factory=list)
    last_flush: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    masker: LogMasker = field(default_factory=LogMasker)

    def line(self, text: str) -> None:
        with self.lock:
            self.pending.append(self.masker.mask(text.rstrip("\r")))
        if len(self.pending) >= 200 or time.monotonic() - self.last_flush > 0.5:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            build_log_append(build=self.build, step=self.step, lines=self.pending)
            self.pending = []
            self.last_flush = time.monotonic()


def _step_set(build: Build, step: str, status: str, **extra) -> None:
    now = timezone.now().isoformat()
    entry = dict(build.steps.get(step, {}))
    entry["status"] = status
    entry["started" if status == "running" else "finished"] = now
    entry.update(extra)
    build.steps[step] = entry
    build.current_step = step if status == "running" else build.current_step
    Build.objects.filter(pk=build.pk).update(steps=build.steps, current_step=build.current_step, heartbeat=timezone.now())


class BuildCancelled(Exception):
    pass


class TeamAtCapacity(Exception):
    """The team already runs its maximum of builds; the task tries again a little later."""


def build_start(build_id: int) -> Build | None:
    """Move a queued build to running; anything else means another worker has it (or it ended).

    Per-team limit: one team cannot take every builder. The team row is locked while counting so
    two workers cannot both start the team's last free slot.
    """
    from portal.models import Team

    with transaction.atomic():
        build = Build.objects.select_for_update().filter(pk=build_id).first()
        if build is None or build.status != Build.Status.QUEUED:
            return None
        Team.objects.select_for_update().get(pk=build.team_id)
        running = Build.objects.filter(team_id=build.team_id, status=Build.Status.RUNNING).count()
        if running >= settings.TEAM_MAX_RUNNING_BUILDS:
            raise TeamAtCapacity(f"team {build.team_id} runs {running} builds")
        build.status = Build.Status.RUNNING
        build.started = build.heartbeat = timezone.now()
        build.attempts += 1
        build.worker = f"{socket.gethostname()}:{os.getpid()}"
        build.save(update_fields=["status", "started", "heartbeat", "attempts", "worker"])
    return build


def watchdog_tick(build_id: int, log: "BuildLog") -> bool:
    """Called once a second from the engine's watchdog thread: flush the log, beat the heart,
    report a cancel. It runs in its own thread, so it closes its database connection each time
    rather than leave one open per build."""
    try:
        log.flush()
        Build.objects.filter(pk=build_id).update(heartbeat=timezone.now())
        return Build.objects.filter(pk=build_id, cancel_requested=True).exists()
    finally:
        connection.close()


def cancel_check(build: Build) -> None:
    if Build.objects.filter(pk=build.pk, cancel_requested=True).exists():
        raise BuildCancelled()


def build_context(build: Build, script_stage_from: str = "") -> bytes:
    """The first stage's context (Dockerfile, parameter files, artifact) or, given the first
    stage's image id, the script stage's (its Dockerfile and the checked script only)."""
    from builds.compose import IMAGE_SCRIPT, STAGE_ONE

    if script_stage_from:
        dockerfile = build.script_stage.replace(f"FROM {STAGE_ONE}", f"FROM {script_stage_from}", 1)
        return context_tar({"Dockerfile": dockerfile.encode(), IMAGE_SCRIPT: build.context_files[IMAGE_SCRIPT].encode()})
    files = {"Dockerfile": build.dockerfile.encode()}
    files.update({path: text.encode() for path, text in build.context_files.items()})
    recipe = build.recipe
    if build.snapshot.get("artifact"):
        name = build.snapshot["artifact"]["filename"]
        with recipe.artifact.open("rb") as handle:
            files[f"artifact/{name}"] = handle.read()
    return context_tar(files)


def step_build(build: Build, log: BuildLog) -> None:
    if build.reused_from_id:
        log.line(f"Identical composition to build #{build.reused_from_id} (sha256:{build.composition_sha256[:12]}): "
                 "reusing its image, no rebuild.")
        return
    context = build_context(build)
    log.line(f"Build context: {len(context)} bytes; composition sha256:{build.composition_sha256}")
    local_tag = f"portal-build-{build.pk}"
    if not build.script_stage:
        build.image_id = _engine_build(build, log, context, f"{local_tag}:latest")
    else:
        stage_one = _engine_build(build, log, context, f"{local_tag}-stage-one:latest")
        log.line("Stage 2: the team's .paas/image-env.sh, with no network")
        try:
            build.image_id = _engine_build(build, log, build_context(build, script_stage_from=stage_one),
                                           f"{local_tag}:latest", network_mode="none")
        finally:  # build-stage images go after use, and after a failed stage 2 too
            image_remove_local(reference=f"{local_tag}-stage-one:latest")
    Build.objects.filter(pk=build.pk).update(image_id=build.image_id)


def _engine_build(build: Build, log: BuildLog, context: bytes, tag: str, network_mode: str | None = None) -> str:
    # A step with no network has no use for the package cache (and must not be told of one).
    build_args = {} if network_mode == "none" else apt_proxy_build_args(
        url=settings.APT_PROXY, timeout=settings.APT_PROXY_PROBE_SECONDS, on_line=log.line)
    try:
        return image_build(
            context=context, tag=tag, build_id=build.pk, on_line=log.line,
            deadline_seconds=settings.BUILD_DEADLINE_SECONDS, no_cache=build.no_cache,
            should_stop=lambda: watchdog_tick(build.pk, log), network_mode=network_mode, build_args=build_args,
        )
    except EngineError as error:
        if error.cancelled:
            raise BuildCancelled()
        code = "build:user:step-failed" if error.user_error else "build:app:engine"
        raise StepFailed(code, str(error), error.failed_step)


def step_push(build: Build, log: BuildLog) -> None:
    build.quarantine_repository = f"{settings.QUARANTINE_REPOSITORY_PREFIX}/{build.team.slug}/{build.recipe.name}"
    build.quarantine_tag = f"build-{build.pk}"
    remote = f"{registry_host()}/{build.quarantine_repository}"
    if build.reused_from_id:
        _push_reused(build, log)
        return
    try:
        image_tag(image_id=build.image_id, repository=remote, tag=build.quarantine_tag)
        build.digest = image_push(repository=remote, tag=build.quarantine_tag, on_line=log.line)
    except EngineError as error:
        raise StepFailed("build:app:push", str(error))
    finally:
        image_remove_local(reference=f"portal-build-{build.pk}:latest")
    log.line(f"Pushed {remote}:{build.quarantine_tag}@{build.digest}")
    Build.objects.filter(pk=build.pk).update(
        quarantine_repository=build.quarantine_repository, quarantine_tag=build.quarantine_tag, digest=build.digest
    )


def _push_reused(build: Build, log: BuildLog) -> None:
    """Tag the earlier build's image in this build's quarantine repository (a registry-side copy)."""
    from catalog.services import registry_client
    from portal.registry import RegistryError

    source = build.reused_from
    try:
        build.digest = registry_client().copy_image(source.quarantine_repository, source.digest,
                                                    build.quarantine_repository, build.quarantine_tag)
    except RegistryError as error:
        raise StepFailed("build:app:push", f"Could not reuse the image of build #{source.pk}: {error}")
    log.line(f"Copied {source.quarantine_reference}@{source.digest} to {build.quarantine_reference} in the registry")
    Build.objects.filter(pk=build.pk).update(
        quarantine_repository=build.quarantine_repository, quarantine_tag=build.quarantine_tag, digest=build.digest)


def step_scan(build: Build, log: BuildLog) -> None:
    from compliance.matching import scan_match
    from compliance.services import image_scan, scan_reuse

    if build.reused_from_id:
        scan = scan_reuse(build=build, source=build.reused_from)
        log.line(f"Reused the SBOM of build #{build.reused_from_id} (same image digest): no rescan.")
    else:
        scan = image_scan(build=build)
    if scan.status != scan.Status.DONE:
        raise StepFailed("scan:app:failed", f"The image could not be scanned: {scan.error}")
    findings = scan_match(scan)
    log.line(f"Vulnerabilities: {len(findings)} findings against the vulnerability database")
    os_name = f"{scan.os_id} {scan.os_version}".strip() or "not identified (no os-release)"
    log.line(f"SBOM: {scan.packages.count()} packages; OS {os_name}")


def step_policy(build: Build, log: BuildLog) -> None:
    from compliance.services import verdict_evaluate

    verdict = verdict_evaluate(build=build)
    for result in verdict.results:
        log.line(f"[{result['status'].upper()}] {result['title']}: {result['message']}")
    log.line("Verdict: " + ("PASSED" if verdict.passed else "BLOCKED"))


def step_publish(build: Build, log: BuildLog) -> None:
    from compliance.gate import GateClosed, image_publish

    try:
        reference = image_publish(build=build, actor=None)
    except GateClosed as closed:
        log.line(f"Not published: {closed}")
        _step_set(build, "publish", "blocked")
        return
    log.line(f"Published {reference}")


STEPS = [("build", step_build), ("push", step_push), ("scan", step_scan), ("policy", step_policy), ("publish", step_publish)]


def build_run(build_id: int) -> None:
    build = build_start(build_id)
    if build is None:
        log.info("build %s is not queued; nothing to do", build_id)
        return
    writer = BuildLog(build)
    _step_set(build, "compose", "done")
    try:
        for name, step in STEPS:
            writer.flush()
            writer.step = name
            cancel_check(build)
            _step_set(build, name, "running")
            step(build, writer)
            if build.steps[name]["status"] == "running":
                _step_set(build, name, "done")
        writer.flush()
        build_finish(build, Build.Status.SUCCEEDED)
    except BuildCancelled:
        writer.line("Cancelled: the running step was stopped.")
        writer.flush()
        _step_set(build, writer.step, "cancelled")
        build_finish(build, Build.Status.CANCELLED, "build:user:cancelled", "The build was cancelled.", "")
    except StepFailed as failure:
        writer.line(f"ERROR: {failure.message}")
        writer.flush()
        _step_set(build, writer.step, "failed")
        build_finish(build, Build.Status.FAILED, failure.code, failure.message, failure.failed_step)
    except Exception as error:  # an app error must still end the build visibly, never leave it running
        log.exception("build %s crashed", build_id)
        writer.line(f"INTERNAL ERROR: {error}")
        writer.flush()
        _step_set(build, writer.step, "failed")
        build_finish(build, Build.Status.FAILED, "build:app:crash", f"Internal error: {error}", "")
    if build.status in (Build.Status.FAILED, Build.Status.CANCELLED) and writer.step == "build":
        from builds.layers import build_layers_clean

        build_layers_clean(build=build)


def build_finish(build: Build, status: str, code: str = "", message: str = "", failed_step: str = "") -> None:
    build.status = status
    build.finished = timezone.now()
    build.error_code, build.error_message, build.failed_step = code, message, failed_step
    build.save(update_fields=["status", "finished", "error_code", "error_message", "failed_step"])

"""What a build worker does for one build: a list of small steps, each recorded as it runs.

Called by the thin Celery task. Idempotent: only a queued build is started, so a duplicate
message does nothing. Compliance (scan, verdict, publication) is reached through its door.
"""
import logging
import os
import socket
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from adapters.engine import (
    EngineError,
    RegistryUnreachable,
    image_build,
    image_diff_ids,
    image_push,
    image_remove_local,
    image_tag,
    images_pull,
)
from adapters.factory import base_pull_token, registry_client, registry_host, service_token
from adapters.registry import RegistryError
from adapters.registry_names import InvalidName, repository_path
from adapters.retry import registry_unreachable, with_registry_retries
from builds.dockerfile.image_reference import reference_parse
from builds.errors import BuildCancelled, StepFailed, TeamAtCapacity, failure_message
from builds.logs import BuildLog, log_text_mask
from builds.models import Build, PushedLayer
from builds.runner.build_network import build_network, build_proxy_args, build_proxy_url
from builds.runner.build_stage import (
    build_stage_cleanup,
    build_stage_context,
    build_stage_failure_part,
    build_stage_orphans_remove,
    build_stage_run_id,
    scripts_network_mode,
)
from builds.runner.context import base_references, build_context, engine_options, image_base_references
from builds.runner.heartbeat import BuildHeartbeat, heartbeat_write
from builds.runner.layers import build_layers_clean
from builds.runner.reaper import build_worker_lost
from compliance.door import GateClosed, build_assess, build_publish, build_scan
from portal.db_retry import CONNECTION_ERRORS, connection_drop, db_retry
from portal.models import Team

log = logging.getLogger(__name__)


def _step_set(build: Build, step: str, status: str, **extra) -> None:
    now = timezone.now().isoformat()
    entry = dict(build.steps.get(step, {}))
    entry["status"] = status
    entry["started" if status == "running" else "finished"] = now
    entry.update(extra)
    build.steps[step] = entry
    build.current_step = step if status == "running" else build.current_step
    db_retry(lambda: Build.objects.filter(pk=build.pk).update(steps=build.steps, current_step=build.current_step,
                                                              heartbeat=timezone.now()))


def build_start(build_id: int, worker: str = "") -> Build | None:
    """Move a queued build to running; anything else means another worker has it (or it ended).
    `worker` is the Celery node name (name@host) that runs it, recorded with the process id so the
    worker's liveness record and its own worker-lost report can be matched to the build.

    Per-team limit: one team cannot take every builder. The team row is locked while counting so
    two workers cannot both start the team's last free slot.
    """
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
        build.worker = f"{worker or socket.gethostname()}:{os.getpid()}"
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
    except CONNECTION_ERRORS:  # PostgreSQL restarting: the watchdog must live on (deadline, cancel)
        return False
    finally:
        connection_drop()


def cancel_check(build: Build) -> None:
    if db_retry(lambda: Build.objects.filter(pk=build.pk, cancel_requested=True).exists()):
        raise BuildCancelled()


def step_build(build: Build, log: BuildLog) -> None:
    if build.reused_from_id:
        log.line(f"Identical composition to build #{build.reused_from_id} (sha256:{build.composition_sha256[:12]}): "
                 "reusing its image, no rebuild.")
        return
    _bases_pull(build, log)
    if not build.build_stage:
        return _image_build(build, log)
    # Runs whose worker was killed never cleaned up: no build outlives its three stage deadlines.
    if orphans := build_stage_orphans_remove(older_than_seconds=3 * settings.BUILD_DEADLINE_SECONDS + 600):
        log.line(f"Build stage: removed {orphans} image(s) left by earlier runs whose worker stopped.")
    run_id = build_stage_run_id(build)
    try:
        _image_build(build, log, build_stage_from=_build_stage_run(build, log, run_id))
    except StepFailed as failure:
        if "COPY --from=" not in failure.failed_step:
            raise
        output = build.snapshot["build_stage"]["output"] or "the project folder"
        raise StepFailed(failure.code, f"The build stage did not leave its build output {output}: {failure.message}",
                         failure.failed_step)
    finally:
        try:
            log.line(f"Build stage: removed its {build_stage_cleanup(run_id)} image(s).")
        except EngineError as error:
            log.line(f"Build stage: its images could not all be removed: {error}")


def _bases_pull(build: Build, log: BuildLog) -> None:
    """The engine pulls FROM images with the builder's token (the registry answers nobody else)."""
    try:
        for reference in images_pull(references=base_references(build), token=base_pull_token):
            log.line(f"Pulled {reference}")
    except EngineError as error:
        raise StepFailed("build:app:base-pull", f"{error}. Nothing was built; retry once the registry answers.")


def _build_stage_run(build: Build, log: BuildLog, run_id: str) -> str:
    network = scripts_network_mode(build)
    log.line(f"Build stage: the code package, .paas/build-env.sh and the build command, "
             f"{'with no network' if network == 'none' else 'with the network access granted to the team'}")
    try:
        return _engine_build(build, log, build_stage_context(build, run_id), f"portal-build-{run_id}-build-stage:latest",
                             network_mode=network)
    except StepFailed as failure:
        part = build_stage_failure_part(failure.failed_step)
        raise StepFailed(failure.code, f"Build stage: {part} failed: {failure.message}",
                         f"build stage: {failure.failed_step}" if failure.failed_step else "build stage")


def _image_build(build: Build, log: BuildLog, build_stage_from: str = "") -> None:
    context = build_context(build, build_stage_from=build_stage_from, on_line=log.line)
    log.line(f"Build context: {len(context)} bytes; composition sha256:{build.composition_sha256}")
    local_tag = f"portal-build-{build.pk}"
    if not build.script_stage:
        build.image_id = _engine_build(build, log, context, f"{local_tag}:latest")
    else:
        stage_one = _engine_build(build, log, context, f"{local_tag}-stage-one:latest")
        network = scripts_network_mode(build)
        log.line("Stage 2: the team's .paas/image-env.sh, "
                 + ("with no network" if network == "none" else "with the network access granted to the team"))
        try:
            build.image_id = _engine_build(build, log, build_context(build, script_stage_from=stage_one),
                                           f"{local_tag}:latest", network_mode=network)
        finally:  # build-stage images go after use, and after a failed stage 2 too
            image_remove_local(reference=f"{local_tag}-stage-one:latest")
    db_retry(lambda: Build.objects.filter(pk=build.pk).update(image_id=build.image_id))


def _engine_build(build: Build, log: BuildLog, context: bytes, tag: str, network_mode: str | None = None) -> str:
    # One deadline for the whole build: a build stage, stage one and the script stage share it.
    total = settings.BUILD_DEADLINE_SECONDS
    elapsed = (timezone.now() - build.started).total_seconds() if build.started else 0
    if elapsed >= total:
        raise StepFailed("build:user:deadline", _deadline_message(total))
    options = engine_options(build)
    # A step with no network has no use for the proxy (and must not be told of one); any other step
    # runs on the build network, reaching the proxy's allowed hosts only.
    if network_mode != "none":
        network_mode = build_network() or network_mode
    proxy = {} if network_mode == "none" else build_proxy_args(
        url=build_proxy_url(), timeout=settings.APT_PROXY_PROBE_SECONDS, on_line=log.line)
    if proxy:  # a team's own build args (Dockerfile recipes) win over the cache
        options["buildargs"] = {**proxy, **options.get("buildargs", {})}
    try:
        return image_build(
            context=context, tag=tag, build_id=build.pk, on_line=log.line,
            deadline_seconds=total - elapsed, no_cache=build.no_cache,
            should_stop=lambda: watchdog_tick(build.pk, log), network_mode=network_mode, **options,
        )
    except EngineError as error:
        if error.cancelled:
            raise BuildCancelled()
        if error.timed_out:
            raise StepFailed("build:user:deadline", _deadline_message(total), error.failed_step)
        if error.out_of_memory:
            raise StepFailed("build:user:out-of-memory", str(error), error.failed_step)
        code = "build:user:step-failed" if error.user_error else "build:app:engine"
        raise StepFailed(code, str(error), error.failed_step)


def _deadline_message(total: int) -> str:
    return f"The build passed its deadline of {int(total)} s (all its stages together) and was stopped."


def step_push(build: Build, log: BuildLog) -> None:
    try:  # only ever spelled from checked parts: a name with '/' or '..' must not reach the registry
        build.quarantine_repository = repository_path(settings.QUARANTINE_REPOSITORY_PREFIX, build.team.slug, build.recipe.name)
    except InvalidName as error:
        raise StepFailed("build:user:invalid-name", f"Nothing was pushed: {error}")
    build.quarantine_tag = f"build-{build.pk}"
    remote = f"{registry_host()}/{build.quarantine_repository}"
    if build.reused_from_id:
        _push_reused(build, log)
        return
    diff_ids = _layers_mount(build, log)
    try:
        image_tag(image_id=build.image_id, repository=remote, tag=build.quarantine_tag)
        build.digest = image_push(repository=remote, tag=build.quarantine_tag, on_line=log.line,
                                  token=lambda: service_token("builder", f"repository:{build.quarantine_repository}:pull,push"),
                                  attempts=settings.PUSH_ATTEMPTS, first_delay=settings.PUSH_FIRST_DELAY_SECONDS,
                                  window=settings.REGISTRY_RETRY_WINDOW_SECONDS,
                                  max_delay=settings.REGISTRY_RETRY_MAX_DELAY_SECONDS,
                                  sleep=lambda seconds: _sleep_beating(build, log, seconds))
    except RegistryUnreachable as error:
        raise StepFailed("build:app:registry-unreachable", f"{error}. Nothing was published; {_registry_retry_promise(build)}.")
    except EngineError as error:
        raise StepFailed("build:app:push", str(error))
    finally:
        # The registry holds the image now (or nothing does): both local names go, or every build
        # would leave an image on the engine's disk for good. Scan and publish read the registry.
        image_remove_local(reference=f"portal-build-{build.pk}:latest")
        image_remove_local(reference=f"{remote}:{build.quarantine_tag}")
    log.line(f"Pushed {remote}:{build.quarantine_tag}@{build.digest}")
    db_retry(lambda: Build.objects.filter(pk=build.pk).update(
        quarantine_repository=build.quarantine_repository, quarantine_tag=build.quarantine_tag, digest=build.digest))
    _layers_record(build, diff_ids)


def _layers_mount(build: Build, log: BuildLog) -> list[str]:
    """Mount into the build's quarantine repository, before the engine pushes, the layers the registry
    holds already: the base's, and the shared package layers earlier builds pushed elsewhere
    (PushedLayer). The engine tries to mount a layer only from the last four repositories it pushed
    it to (other recipes' quarantine, which this build's token may not read), then compresses and
    uploads it again: about 6 s and 50 MB for the Debian base in every new repository. Finding the
    layers there already, it answers "Layer already exists". It only saves time: when the registry
    declines or fails, the push sends the layers as before (and deals with an outage). Returns the
    image's diff ids, for _layers_record."""
    mounted, done = 0, set()
    client = registry_client("builder")
    try:
        diff_ids = image_diff_ids(image_id=build.image_id)
        sources = []
        for reference in map(reference_parse, image_base_references(build)):
            client.authorize(f"repository:{reference.repository}:pull", f"repository:{build.quarantine_repository}:pull,push")
            manifest, _ = client.manifest(reference.repository, reference.digest)
            sources += [(layer["digest"], reference.repository) for layer in manifest.get("layers", [])]
        shared = list(PushedLayer.objects.filter(diff_id__in=diff_ids).exclude(repository=build.quarantine_repository))
        sources += [(row.digest, row.repository) for row in shared]
        if shared:
            client.authorize(f"repository:{build.quarantine_repository}:pull,push",
                             *{f"repository:{row.repository}:pull" for row in shared})
        for digest, repository in sources:
            if digest not in done:
                done.add(digest)
                mounted += client.mount_blob_if_allowed(build.quarantine_repository, digest, repository)
    except (RegistryError, EngineError, ValueError) as error:
        log.line(f"Layers not mounted ahead of the push ({error}); the push sends them.")
        return []
    if mounted:
        log.line(f"Mounted {mounted} layer{'s' if mounted != 1 else ''} the registry holds already into "
                 f"{build.quarantine_repository}: the push sends only the image's new layers.")
    return diff_ids


def _layers_record(build: Build, diff_ids: list[str]) -> None:
    """Remember where each layer of the pushed image is, for later builds sharing it (PushedLayer)."""
    try:
        manifest, _ = registry_client("builder").manifest(build.quarantine_repository, build.digest)
    except (RegistryError, ValueError):
        return
    digests = [layer["digest"] for layer in manifest.get("layers", [])]
    if not diff_ids or len(digests) != len(diff_ids):
        return  # not the image the engine described: record nothing rather than a wrong pairing
    rows = [PushedLayer(diff_id=diff_id, digest=digest, repository=build.quarantine_repository)
            for diff_id, digest in zip(diff_ids, digests)]
    db_retry(lambda: PushedLayer.objects.bulk_create(rows, update_conflicts=True, unique_fields=["diff_id"],
                                                     update_fields=["digest", "repository", "pushed"]))


def _sleep_beating(build: Build, log: BuildLog, seconds: float) -> None:
    """Wait between push attempts while still flushing the log and beating the heart, so a long
    backoff is visible at once and never mistaken for a dead worker by the reaper."""
    log.flush()
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 1.0))
        heartbeat_write(build.pk)  # a database restart meanwhile must not end the wait


def _registry_retrying(build: Build, log: BuildLog, call):
    return with_registry_retries(call, attempts=settings.PUSH_ATTEMPTS, first_delay=settings.PUSH_FIRST_DELAY_SECONDS,
                                 window=settings.REGISTRY_RETRY_WINDOW_SECONDS,
                                 max_delay=settings.REGISTRY_RETRY_MAX_DELAY_SECONDS,
                                 on_line=log.line, sleep=lambda seconds: _sleep_beating(build, log, seconds))


def _registry_retry_promise(build: Build) -> str:
    """What happens next, as the failure message says it (the reaper retries a build once)."""
    if build.auto_retried:
        return "it was already retried once automatically: retry the build once the registry is back"
    return "the build will be retried automatically once the registry answers again"


def _push_reused(build: Build, log: BuildLog) -> None:
    """Tag the earlier build's image in this build's quarantine repository (a registry-side copy)."""
    source = build.reused_from
    try:
        build.digest = _registry_retrying(build, log, lambda: registry_client("builder").copy_image(
            source.quarantine_repository, source.digest, build.quarantine_repository, build.quarantine_tag))
    except RegistryError as error:
        if registry_unreachable(error):
            raise StepFailed("build:app:registry-unreachable",
                             f"Could not reuse the image of build #{source.pk}: {error}; {_registry_retry_promise(build)}.")
        raise StepFailed("build:app:push", f"Could not reuse the image of build #{source.pk}: {error}")
    log.line(f"Copied {source.quarantine_reference}@{source.digest} to {build.quarantine_reference} in the registry")
    Build.objects.filter(pk=build.pk).update(
        quarantine_repository=build.quarantine_repository, quarantine_tag=build.quarantine_tag, digest=build.digest)


def step_scan(build: Build, log: BuildLog) -> None:
    summary = build_scan(build, reuse_from=build.reused_from if build.reused_from_id else None)
    if summary.error:
        raise StepFailed("scan:app:failed", f"The image could not be scanned: {summary.error}")
    if summary.reused:
        log.line(f"Reused the SBOM of build #{build.reused_from_id} (same image digest): no rescan.")
    elif build.reused_from_id:
        log.line(f"Scanned the image again: the SBOM of build #{build.reused_from_id} predates today's checks.")
    if summary.not_assessed:  # never "0 findings" when there was nothing to find them in
        found = f" ({summary.findings} findings in the data there is)" if summary.findings else ""
        log.line(f"Vulnerabilities: not assessed: {summary.not_assessed}{found}")
    else:
        log.line(f"Vulnerabilities: {summary.findings} findings against the vulnerability database")
    log.line(f"SBOM: {summary.packages} packages; OS {summary.os_name or 'not identified (no os-release)'}")


def step_policy(build: Build, log: BuildLog) -> None:
    assessment = build_assess(build)
    for result in assessment.results:
        log.line(f"[{result['status'].upper()}] {result['title']}: {result['message']}")
    if assessment.not_assessed:
        allowed = "publication allowed: the team's policy only warns" if assessment.passed else "BLOCKED"
        log.line(f"Verdict: NOT ASSESSED ({allowed}): {assessment.not_assessed}")
    else:
        log.line("Verdict: " + ("PASSED" if assessment.passed else "BLOCKED"))


def step_publish(build: Build, log: BuildLog) -> None:
    try:
        # Publishing again is harmless (same manifest bytes, same tags), so it may be retried whole.
        reference = _registry_retrying(build, log, lambda: build_publish(build, actor=None))
    except GateClosed as closed:
        log.line(f"Not published: {closed}")
        _step_set(build, "publish", "blocked")
        return
    except RegistryError as error:
        if registry_unreachable(error):
            raise StepFailed("publish:app:registry-unreachable", f"Not published: {error}; {_registry_retry_promise(build)}.")
        raise StepFailed("publish:app:registry", f"Not published: {error}. Retry once the registry is back.")
    log.line(f"Published {reference}")


STEPS = [("build", step_build), ("push", step_push), ("scan", step_scan), ("policy", step_policy), ("publish", step_publish)]


def build_run(build_id: int, worker: str = "", dispatch=None) -> None:
    """Run a queued build. `dispatch(build_id)` sends a build to the workers again: a build whose
    step lost the database is retried once with it (without it, the reaper retries it later)."""
    build = build_start(build_id, worker)
    if build is None:
        log.info("build %s is not queued; nothing to do", build_id)
        return
    with BuildHeartbeat(build.pk):
        _build_steps_run(build, dispatch)


def _log_flush_retrying(writer: BuildLog) -> None:
    db_retry(lambda: writer.flush(strict=True))


def _database_lost(build: Build, writer: BuildLog, error: Exception, dispatch) -> None:
    """A step met a database that went away (a PostgreSQL restart) in the middle of its work,
    where its own writes cannot simply be tried again: once the database answers, the build is
    retried as one whose worker died (once, then failed), instead of being left running."""
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    log.warning("build %s: the database connection was lost during step %s: %s", build.pk, writer.step, first_line)
    if dispatch is None:
        return
    _log_flush_retrying(writer)
    why = f"The database connection was lost during step {writer.step} ({first_line})"
    db_retry(lambda: build_worker_lost(build.pk, dispatch=dispatch, worker=build.worker.rpartition(":")[0], why=why))


def _build_steps_run(build: Build, dispatch) -> None:
    build_id = build.pk
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
        _log_flush_retrying(writer)
        build_finish(build, Build.Status.SUCCEEDED)
    except BuildCancelled:
        writer.line("Cancelled: the running step was stopped.")
        _log_flush_retrying(writer)
        _step_set(build, writer.step, "cancelled")
        build_finish(build, Build.Status.CANCELLED, "build:user:cancelled", "The build was cancelled.", "")
    except StepFailed as failure:
        writer.line(f"ERROR: {failure.message}")
        _log_flush_retrying(writer)
        _step_set(build, writer.step, "failed")
        build_finish(build, Build.Status.FAILED, failure.code, failure.message, failure.failed_step)
    except CONNECTION_ERRORS as error:
        _database_lost(build, writer, error, dispatch)
        return
    except Exception as error:  # an app error must still end the build visibly, never leave it running
        log.exception("build %s crashed", build_id)
        writer.line(f"INTERNAL ERROR: {error}")
        _log_flush_retrying(writer)
        _step_set(build, writer.step, "failed")
        build_finish(build, Build.Status.FAILED, "build:app:crash", f"Internal error: {error}", "")
    # Whatever the outcome, the engine keeps nothing of this build but its shared package layers
    # (the registry holds the image; scan and publication read it there).
    build_layers_clean(build=build)


def build_finish(build: Build, status: str, code: str = "", message: str = "", failed_step: str = "") -> None:
    build.status = status
    build.finished = timezone.now()
    # The failed step is the builder's echo of a Dockerfile line ("Step 3/7 : ENV API_TOKEN=..."), and
    # an engine error may quote one: masked as the log is, since the build page and the API show both.
    message = failure_message(code, message) if message else message
    build.error_code, build.error_message, build.failed_step = code, log_text_mask(message), log_text_mask(failed_step)
    db_retry(lambda: build.save(update_fields=["status", "finished", "error_code", "error_message", "failed_step"]))

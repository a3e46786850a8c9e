"""Worker log lines name the build their task runs."""
import logging

from django.conf import settings

from builds import tasks
from portal.logcontext import build_log_context


def formatted(record: logging.LogRecord, fmt: str) -> str:
    return logging.Formatter(fmt).format(record)


def test_it_names_the_build_in_lines_logged_while_it_runs(caplog):
    logger = logging.getLogger("builds.runner.pipeline")
    with caplog.at_level(logging.INFO):
        with build_log_context(42):
            logger.info("inside")
        logger.info("outside")
    inside, outside = caplog.records[-2:]
    assert inside.build_id == 42 and outside.build_id is None
    assert "] build=42 inside" in formatted(inside, settings.CELERY_WORKER_LOG_FORMAT)
    assert "] outside" in formatted(outside, settings.CELERY_WORKER_LOG_FORMAT)


def test_it_is_set_by_the_build_task(caplog, monkeypatch):
    seen = []

    def build_run(build_id, **_):
        logging.getLogger("builds.runner.pipeline").warning("step failed")
        seen.append(build_id)

    monkeypatch.setattr(tasks, "build_run", build_run)
    with caplog.at_level(logging.INFO):
        tasks.run_build.apply(args=[7])
    assert seen == [7]
    lines = [r for r in caplog.records if r.name.startswith("builds.")]
    assert [r.getMessage() for r in lines] == ["build task started", "step failed", "build task ended"]
    assert all(r.build_id == 7 for r in lines)
    task_format = settings.CELERY_WORKER_TASK_LOG_FORMAT.replace("%(task_name)s[%(task_id)s]", "task")
    assert " build=7 task: step failed" in formatted(lines[1], task_format)

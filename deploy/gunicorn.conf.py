"""gunicorn settings the supervised web program (deploy/supervisord.conf) loads.

django-prometheus counts in each worker process; with PROMETHEUS_MULTIPROC_DIR they share files
there, and a worker that exits must be marked dead so its live gauges stop being added up.
"""
import os


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

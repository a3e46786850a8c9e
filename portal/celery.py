"""The Celery app. Queues per kind of work so builds never starve scans or housekeeping."""
import os

from celery import Celery

from portal import logcontext

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
logcontext.install()  # worker log lines name the build their task is running (builds/tasks.py)

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

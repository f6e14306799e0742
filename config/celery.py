"""The one Celery app of the project, configured from Django settings (CELERY_* names)."""

import os
from typing import Any

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task: Task | None = None, **kwargs: Any) -> None:
    """Around each task what Django does around each request: drop a database connection that
    is broken or older than CONN_MAX_AGE, and check the kept one before its next use
    (CONN_HEALTH_CHECKS). Not for a task run eagerly inside a caller's transaction."""
    if task is not None and not task.request.is_eager:
        close_old_connections()


def task_named(name: str) -> Task:
    """A registered task by name, in any process (a worker has them all imported; the web
    process imports the task modules on first use)."""
    if name not in app.tasks:  # importing again would also set Django (and logging) up again
        app.loader.import_default_modules()
    return app.tasks[name]

"""The one Celery app of the project, configured from Django settings (CELERY_* names)."""

import os

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def task_named(name: str) -> Task:
    """A registered task by name, in any process (a worker has them all imported; the web
    process imports the task modules on first use)."""
    app.loader.import_default_modules()
    return app.tasks[name]

"""The one Celery app of the project, configured from Django settings (CELERY_* names)."""

import logging
import os
import signal
import threading
import time
from typing import Any

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import setup_logging, task_postrun, task_prerun
from django.db import close_old_connections

from config.settings import settings_module
from messaging import transport

# Before the app is made: Celery installs its Django fix-up (which starts Django in workers and
# beat) only when this is set.
os.environ["DJANGO_SETTINGS_MODULE"] = settings_module(os.environ)

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
transport.bind_app(app)  # what messages between the departments are sent with

logger = logging.getLogger(__name__)


@setup_logging.connect
def _log_as_configured(**kwargs: Any) -> None:
    """Workers and beat log as every process does: settings' LOGGING, which Django has applied.
    Celery sets up logging itself only when this signal has no receiver, and then its --loglevel
    (WARNING if not given) overrode LOG_LEVEL on the root logger, its task logger got a plain-text
    handler of its own, and with redirection on every write() to stdout or stderr became a record
    of its own (a printed traceback turned into hundreds of one-character lines). Uncaught
    exceptions and warnings are logged as records instead (core.apps)."""


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task: Task | None = None, **kwargs: Any) -> None:
    """Around each task what Django does around each request: drop a database connection that
    is broken or older than CONN_MAX_AGE, and check the kept one before its next use
    (CONN_HEALTH_CHECKS). Not for a task run eagerly inside a caller's transaction."""
    if task is not None and not task.request.is_eager:
        close_old_connections()


class _SoloTimeLimits:
    """Celery enforces task time limits only in its prefork and gevent pools; our workers run
    the solo pool (one process, tasks in its main thread). So here: at the soft limit a SIGALRM
    raises SoftTimeLimitExceeded inside the task (a transient error: the consumer retries it);
    past the hard limit, a task that did not stop (stuck where no signal reaches it) ends the
    process, whose supervisor starts a fresh one and whose message Redis gives out again."""

    def __init__(self) -> None:
        self._hard_deadline: float | None = None
        self._watchdog: threading.Thread | None = None

    def arm(self, task: Task) -> None:
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        if soft:
            signal.signal(signal.SIGALRM, self._on_soft_limit)
            signal.setitimer(signal.ITIMER_REAL, soft)
        if hard:
            self._hard_deadline = time.monotonic() + hard
            if self._watchdog is None:
                self._watchdog = threading.Thread(target=self._watch, name="hard-time-limit", daemon=True)
                self._watchdog.start()

    def disarm(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        self._hard_deadline = None

    @staticmethod
    def _on_soft_limit(signum: int, frame: Any) -> None:
        raise SoftTimeLimitExceeded("soft time limit exceeded")

    def _watch(self) -> None:
        while True:
            time.sleep(1)
            deadline = self._hard_deadline
            if deadline is not None and time.monotonic() > deadline:
                logger.critical("task exceeded its hard time limit; the worker exits to be restarted")
                os._exit(70)


_time_limits = _SoloTimeLimits()


@task_prerun.connect
def _arm_time_limits(task: Task | None = None, **kwargs: Any) -> None:
    if task is not None and not task.request.is_eager and threading.current_thread() is threading.main_thread():
        _time_limits.arm(task)


@task_postrun.connect
def _disarm_time_limits(task: Task | None = None, **kwargs: Any) -> None:
    if task is not None and not task.request.is_eager and threading.current_thread() is threading.main_thread():
        _time_limits.disarm()

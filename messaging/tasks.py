"""Celery plumbing of the transport: the base class of every consumer task. Each department
declares its own tasks in its tasks module, `<app>.purge_messages` (``messages_purge``) among
them. Acknowledgements are no tasks: they travel on Redis lists (messaging.acks)."""

import logging
from typing import Any

import kombu.exceptions
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from core import metrics
from core.errors import DATABASE_ERRORS
from messaging.consumer import dead_letter_record
from messaging.transport import BROKER_AWAY

logger = logging.getLogger(__name__)


# Errors that can pass by themselves: the database or the broker away or too slow, a lock or
# statement timeout, a serialization failure or deadlock (all Django OperationalErrors), a task
# stopped at its soft time limit. Anything else (a bug, a constraint the message breaks) fails
# the same way every time: it becomes a dead letter at once instead of being retried.
TRANSIENT_ERRORS = (*DATABASE_ERRORS, *BROKER_AWAY, kombu.exceptions.OperationalError, SoftTimeLimitExceeded)


class ConsumerTask(Task):
    """Consumes one message: safe to run twice, retried with backoff and jitter on errors that
    can pass (TRANSIENT_ERRORS), a dead letter at once on any other, or once the retries are spent."""

    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True
    autoretry_for = TRANSIENT_ERRORS
    max_retries = settings.MESSAGING_CONSUMER_MAX_RETRIES
    retry_backoff = 1
    retry_backoff_max = 30
    retry_jitter = True

    def on_retry(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        metrics.TASK_RETRIES.labels(task=self.name).inc()
        logger.warning(
            "message consumer retrying",
            extra={"task": self.name, "retries": self.request.retries, "error": repr(exc)[:200]},
        )

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        dead_letter_record(
            app_label=self.name.split(".", 1)[0],
            task_name=self.name,
            raw=args[0] if args else None,
            reason="failed after retries" if isinstance(exc, TRANSIENT_ERRORS) else "failed",
            error=repr(exc),
        )

"""What the work in hand belongs to, carried through logs and messages. Standard library only:
the logging configuration imports it before Django is set up."""

import logging
from contextvars import ContextVar

# The correlation id: taken from the HTTP request's X-Request-ID (or made), carried in every
# message written meanwhile, and set again while a consumer applies that message.
current_correlation_id: ContextVar[str | None] = ContextVar("current_correlation_id", default=None)


class CorrelationIdFilter(logging.Filter):
    """Puts the correlation id of the work in hand on every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "correlation_id"):
            record.correlation_id = current_correlation_id.get()
        return True


class DropTaskArgumentsFilter(logging.Filter):
    """Celery logs a task's arguments when it receives or fails it; ours are whole messages,
    with names and addresses in them, which must not reach the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        data = getattr(record, "data", None)
        if isinstance(data, dict):
            record.data = {key: value for key, value in data.items() if key not in ("args", "kwargs")}
        return True

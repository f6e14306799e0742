"""What the work in hand belongs to, carried through logs and messages. Standard library only:
the logging configuration imports it before Django is set up."""

import logging
import re
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger import json

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


# PostgreSQL's DETAIL, CONTEXT and "LINE n:" lines quote the values of the row or key at fault
# ("Failing row contains (…, Hauptstraße 1, …)", "Key (username)=(ada) already exists") or the
# statement with its parameters, in a traceback or in the repr() of an error alike; the line
# before them names the constraint and stays.
_DATABASE_DETAIL = re.compile(r"(DETAIL|CONTEXT|LINE \d+): (?:(?!\\n)[^\n])*")
_JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]*")


class JsonFormatter(json.JsonFormatter):
    """One JSON object per log record, with no database row values or tokens in any of its texts
    (a traceback or an error's repr may hold either)."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        for key, value in log_data.items():
            if isinstance(value, str) and (
                "DETAIL: " in value or "CONTEXT: " in value or "LINE " in value or "eyJ" in value
            ):
                log_data[key] = _JWT.sub("[Filtered]", _DATABASE_DETAIL.sub(r"\1: [Filtered]", value))
        return log_data

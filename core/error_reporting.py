"""Error reporting to Sentry, and what an event may carry.

An event says what failed and where: the exception's type and message, the stack trace (files,
functions, lines and their source), the request's method and path, and the log lines before it
(their message, and those fields of ours that are ids, counts or states); a traced request or
task (SENTRY_TRACES_SAMPLE_RATE) also its SQL statements (their text, with placeholders). It
never carries what a client sent or what would let someone in or find someone: local variables,
request bodies, cookies, query strings, headers other than a few harmless ones, SQL parameters,
task arguments, the user, tokens, passwords, addresses.

Two layers, because what an integration collects changes between SDK versions: the SDK is told
not to collect these (``data_collection`` and the options beside it), and ``before_send`` /
``before_breadcrumb`` keep only what is listed here, whatever an integration added.

What it costs: errors only, unless SENTRY_TRACES_SAMPLE_RATE asks for traces. The SDK's
integrations do work on every request, task and statement whether or not an error follows, so
without traces they are kept to what an error event needs (``init_error_reporting``); the
benchmark's ``--sentry`` measures what remains (docs/performance.md).
"""

import re
from typing import Any, cast

import sentry_sdk
from django.db.backends.utils import CursorWrapper
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.types import Event, Hint

FILTERED = "[Filtered]"

# Request headers an event keeps; Authorization, Cookie, X-Forwarded-For and the rest are dropped.
SAFE_HEADERS = frozenset({"Accept", "Content-Length", "Content-Type", "Host", "User-Agent", "X-Request-Id"})

# Fields of log records (ours: see the `extra=` of each log call) and of the SDK's breadcrumbs that
# are ids, counts, states or names of things, never input. Anything else is dropped; in particular
# "reason" and "error", which may quote a payload or a database row.
SAFE_DATA_KEYS = frozenset(
    {
        # ours
        "abandoned", "app", "apps", "attempts", "by", "check", "correlation_id", "count", "dead_letter_id",
        "done", "duration_ms", "first", "from", "inbox", "lines", "message_id", "method", "order_id",
        "outbox", "path", "postponed", "result", "retries", "sent", "shipment_id", "sku", "source",
        "status", "status_code", "task", "to", "total", "type", "user_id", "view",
        # the SDK's (SQL, Redis, HTTP breadcrumbs)
        "db.executemany", "db.operation", "redis.command", "redis.is_cluster", "redis.transaction",
    }
)  # fmt: skip

# Extra fields that integrations add and that are safe as they are.
SAFE_EXTRA_KEYS = frozenset({"sys.argv"})

# PostgreSQL's DETAIL (and CONTEXT, and LINE n:) lines quote the values of the row or key at fault,
# or the statement with its parameters (psycopg2 puts them in on the client): "Failing row contains
# (…, Hauptstraße 1, …)", "Key (username)=(ada) already exists." The first line, which names the
# column or constraint, is kept.
_DATABASE_DETAIL = re.compile(r"\n(?:DETAIL|CONTEXT|LINE \d+): .*", re.DOTALL)
# A JWT (access or refresh token), whatever it holds: header.payload.signature, base64url.
_JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]*")


def init_error_reporting(*, dsn: str, environment: str, release: str | None, traces_sample_rate: float) -> None:
    """Start sending errors to Sentry, and traces of ``traces_sample_rate`` of the requests and
    tasks (0: none). Called once per process, when Django starts (core/apps.py)."""
    tracing = traces_sample_rate > 0
    if tracing:
        integrations = [DjangoIntegration(), CeleryIntegration()]
    else:
        # No transaction per request and no spans for Django's signals. No Celery integration: it
        # costs 0.6 to 0.9 ms of CPU a task (a transaction, a span, a broker connection object),
        # and a failed task reaches Sentry without it, through the logging integration: Celery
        # logs each failure at ERROR with its traceback, and a dead letter is logged at ERROR.
        integrations = [DjangoIntegration(http_methods_to_capture=(), signals_spans=False)]
    statement_methods = CursorWrapper.execute, CursorWrapper.executemany
    sentry_sdk.init(
        dsn=dsn,
        integrations=integrations,
        auto_enabling_integrations=False,  # the SDK would add others (Redis: a breadcrumb per command)
        traces_sample_rate=traces_sample_rate if tracing else None,  # None: no tracing at all
        auto_session_tracking=False,  # release health: a session per request, not an error
        environment=environment,
        release=release,
        # The SDK's own switches, category by category (this SDK's successor of send_default_pii,
        # which it deprecates and ignores next to data_collection).
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "allowlist", "terms": sorted(SAFE_HEADERS)}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "queues": False,  # Celery task arguments: our messages carry shipping addresses
            "graphql": {"document": False, "variables": False},
            "gen_ai": {"inputs": False, "outputs": False},
            "stack_frame_variables": False,
        },
        include_local_variables=False,
        max_request_body_size="never",
        before_send=before_send,
        before_send_transaction=before_send,  # a traced request's request data, breadcrumbs …
        before_breadcrumb=before_breadcrumb,
    )
    if not tracing:
        # The Django integration wraps every SQL statement in a span and a breadcrumb: about 60 µs
        # of CPU a statement, over a millisecond an order across web and workers, error or not.
        # An error's event names its statement's failure and has its stack trace; the statements
        # before it are not worth that, so Django's cursor gets its own methods back. (The
        # integration patches them once per process, in sentry_sdk.init, with no option to skip.)
        CursorWrapper.execute, CursorWrapper.executemany = statement_methods  # type: ignore[method-assign]


def before_send(event: Event, hint: Hint) -> Event:
    """Keep of an event only what the module docstring lists."""
    # Sentry's Event type names the fields the SDK fills; the scrubber reads any JSON object.
    _scrub_event(cast("dict[str, Any]", event))
    return event


def _scrub_event(event: dict[str, Any]) -> None:
    if "request" in event:
        event["request"] = _scrub_request(event["request"])
    event.pop("user", None)
    for exception in (event.get("exception") or {}).get("values") or []:
        if exception.get("value"):
            exception["value"] = scrub_text(exception["value"])
        _drop_frame_variables(exception.get("stacktrace"))
    for thread in (event.get("threads") or {}).get("values") or []:
        _drop_frame_variables(thread.get("stacktrace"))
    _drop_frame_variables(event.get("stacktrace"))
    if isinstance(event.get("message"), str):
        event["message"] = scrub_text(event["message"])
    if "logentry" in event:
        # The message without its arguments: those could be anything.
        event["logentry"] = {"message": scrub_text(str(event["logentry"].get("message", "")))}
    if "extra" in event:
        event["extra"] = _scrub_extra(event["extra"])
    crumbs = (event.get("breadcrumbs") or {}).get("values")
    if crumbs:
        event["breadcrumbs"]["values"] = [_scrub_breadcrumb(crumb) for crumb in crumbs]


def before_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None) -> dict[str, Any]:
    """Keep of a breadcrumb its kind, its SQL text or log message template, and its safe fields."""
    record = (hint or {}).get("log_record")
    if record is not None:
        # The template, not the formatted line: its arguments could be anything.
        crumb["message"] = str(record.msg)
    return _scrub_breadcrumb(crumb)


def scrub_text(text: str) -> str:
    """A message without database row values or tokens."""
    return _JWT.sub(FILTERED, _DATABASE_DETAIL.sub("", text))


def _scrub_request(request: dict[str, Any]) -> dict[str, Any]:
    headers = request.get("headers") or {}
    return {
        "method": request.get("method"),
        "url": str(request.get("url", "")).split("?", 1)[0],
        "headers": {name: value for name, value in headers.items() if name in SAFE_HEADERS},
    }


def _scrub_extra(extra: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in extra.items() if key in SAFE_DATA_KEYS or key in SAFE_EXTRA_KEYS}
    celery_job = extra.get("celery-job")
    if isinstance(celery_job, dict):
        kept["celery-job"] = {"task_name": celery_job.get("task_name")}
    return kept


def _scrub_breadcrumb(crumb: dict[str, Any]) -> dict[str, Any]:
    message = crumb.get("message")
    if crumb.get("category") == "redis" and message:
        # The command only: its key may hold a client's address (the throttles count per address).
        crumb["message"] = message.split(" ", 1)[0]
    elif crumb.get("category") == "subprocess":
        crumb.pop("message", None)
    elif isinstance(message, str):
        crumb["message"] = scrub_text(message)
    if "data" in crumb:
        crumb["data"] = {key: value for key, value in (crumb["data"] or {}).items() if key in SAFE_DATA_KEYS}
    return crumb


def _drop_frame_variables(stacktrace: dict[str, Any] | None) -> None:
    for frame in (stacktrace or {}).get("frames") or []:
        frame.pop("vars", None)

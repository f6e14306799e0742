"""Prometheus metrics, correct across processes.

Every process (gunicorn workers, Celery workers, the relay) writes its counters and histograms to
files in PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode, set up below);
``/metrics`` adds them all up, with the collectors the apps register (messaging's outbox gauges, read
from the database at scrape time). docs/operations.md lists every metric.
"""

import os
from pathlib import Path
from typing import Any

from django.conf import settings

# prometheus_client picks its multiprocess mode when it is first imported, from the environment
# variable, and writes a file in the directory as soon as a metric exists. So both are set up
# here, before the import below, in whichever process gets here first (web, workers, beat, relay,
# other commands, tests): this module is where the project first imports prometheus_client
# (messaging.metrics, the only other place, is imported after it, by messaging.apps).
os.environ["PROMETHEUS_MULTIPROC_DIR"] = settings.PROMETHEUS_MULTIPROC_DIR
Path(settings.PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.views.decorators.http import require_GET  # noqa: E402
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest  # noqa: E402
from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests answered", ["view", "method", "code"])
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ORDERS_PLACED = Counter("orders_placed_total", "Orders placed")
ORDERS_REFUSED = Counter("orders_refused_total", "Orders refused", ["reason"])
ORDER_CANCELLATIONS_REQUESTED = Counter(
    "order_cancellations_requested_total", "Cancellations asked for (api or admin)", ["source"]
)
ORDERS_CANCELLED = Counter("orders_cancelled_total", "Orders cancelled, their stock put back")
ORDER_CANCELLATIONS_REFUSED = Counter(
    "order_cancellations_refused_total", "Cancellations delivery refused: the parcel had left"
)
MESSAGES_PUBLISHED = Counter(
    "messages_published_total", "Messages handed to the broker", ["app", "type", "path", "result"]
)
MESSAGES_CONSUMED = Counter("messages_consumed_total", "Messages received", ["app", "type", "result"])
ACKNOWLEDGEMENTS = Counter(
    "acknowledgements_total",
    "Acknowledgements of a department's messages: applied, duplicate, rejected (forged or malformed),"
    " lost (not pushed, or dropped: the message is sent again)",
    ["app", "result"],
)
MESSAGE_LAG = Histogram(
    "message_lag_seconds",
    "From a message's occurred_at to its effect being committed",
    ["type"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
MESSAGE_RETRIES = Counter("message_retries_total", "Messages sent again for want of an acknowledgement", ["app"])
TASK_RETRIES = Counter("task_retries_total", "Consumer task runs that failed and will be retried", ["task"])
DEAD_LETTERS = Counter("dead_letters_total", "Messages a consumer refused or could not apply", ["app", "reason"])
OUTBOX_ABANDONED = Counter(
    "outbox_abandoned_total",
    "Messages given up after every attempt (never acknowledged, or never published)",
    ["app"],
)


def http_request(*, view: str, method: str, code: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(view=view, method=method, code=str(code)).inc()
    HTTP_LATENCY.labels(view=view).observe(seconds)


# Collectors that read their figures when scraped (e.g. messaging's outbox gauges), added by the
# apps that own them when Django starts.
_collectors: list[Any] = []


def register_collector(collector: Any) -> None:
    _collectors.append(collector)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    for collector in _collectors:
        registry.register(collector)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

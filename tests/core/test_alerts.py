"""docs/alerts.yml, the Prometheus alerting rules, against the app: each rule is complete and
names only metrics that GET /metrics serves (a renamed metric would silence its alert)."""

from pathlib import Path

import promql_parser
import pytest
import redis
import yaml
from django.conf import settings

from messaging.acks import ack_list, acknowledgements_apply
from messaging.models import OutboxState
from messaging.outbox import relay_batch
from messaging.transport import task_named
from tests.factories import SalesOutboxMessageFactory
from tests.metrics import scrape

ALERTS = Path(__file__).resolve().parents[2] / "docs" / "alerts.yml"


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def metrics_named(expr: str) -> set[str]:
    """The metric names an expression selects (parsed as PromQL: a syntax error fails here)."""
    names = set()
    promql_parser.walk(
        promql_parser.parse(expr),
        lambda node: names.add(node.name) if isinstance(node, promql_parser.VectorSelector) else None,
    )
    return names


def test_each_rule_has_a_severity_and_a_summary():
    assert [(rule["alert"], rule["labels"]["severity"], bool(rule["annotations"]["summary"])) for rule in rules()] == [
        ("OutboxAgeing", "page", True),
        ("OutboxMessagesAbandoned", "page", True),
        ("DeadLetters", "page", True),
        ("AcknowledgementsRejected", "page", True),
        ("ConsumerRetries", "ticket", True),
    ]


@pytest.mark.django_db
def test_every_metric_a_rule_names_is_served_by_the_app(client, broker):
    # Labelled counters are served once something has counted: cause each once.
    SalesOutboxMessageFactory(state=OutboxState.AWAITING_ACK, attempts=settings.MESSAGING_MAX_ATTEMPTS)
    relay_batch(app_label="sales")  # a message abandoned after its last attempt
    forged = {**SalesOutboxMessageFactory.build().envelope, "payload": {"order_id": "ORD-FORGED"}}
    task_named("delivery.order_created").apply(args=[forged])  # a dead letter: bad signature
    task = task_named("sales.shipment_status_changed")
    task.on_retry(ConnectionError("database away"), "task-1", [], {}, None)  # what Celery calls on a retry
    redis.Redis.from_url(settings.REDIS_URL).rpush(ack_list("sales"), "forged")
    acknowledgements_apply(app_label="sales")  # the relay refuses it

    served = {name for name, _ in scrape(client)}

    named = set().union(*(metrics_named(rule["expr"]) for rule in rules()))
    assert named == {
        "outbox_oldest_pending_age_seconds",
        "outbox_abandoned_total",
        "dead_letters_total",
        "task_retries_total",
        "acknowledgements_total",
    }
    assert named - served == set()

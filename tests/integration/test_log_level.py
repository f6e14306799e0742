"""LOG_LEVEL governs every process: web (the app and gunicorn), the workers, the relay. Celery's
--loglevel used to set the workers' level instead (its default WARNING when not given)."""

import json
from pathlib import Path

import pytest

from delivery.models import Shipment
from tests.factories import ADDRESS, CustomerFactory, ProductFactory
from tests.integration.stack import Stack, wait_until
from tests.integration.test_lifecycle import all_outboxes_done, token

pytestmark = pytest.mark.integration


def place_an_order_and_wait_until_it_is_acknowledged(stack: Stack) -> int:
    ProductFactory(sku="MUG-1", stock_quantity=10)
    body = {"items": [{"sku": "MUG-1", "quantity": 1}], "shipping_address": ADDRESS}
    code, order = stack.request("POST", "/api/orders/", body, token(CustomerFactory()))
    wait_until(lambda: Shipment.objects.filter(order_id=order["id"]).exists(), timeout=15, what="the shipment")
    wait_until(all_outboxes_done, timeout=15, what="every message acknowledged")
    return code


def records(*logs: Path) -> list[tuple[str, dict]]:
    """(process, record) for every JSON line of these logs."""
    return [
        (log.stem, json.loads(line)) for log in logs for line in log.read_text().splitlines() if line.startswith("{")
    ]


@pytest.mark.parametrize("stack_env", [{"LOG_LEVEL": "WARNING"}])
def test_log_level_warning_leaves_no_info_line_in_any_process(stack):
    # Given the live system with LOG_LEVEL=WARNING
    # When an order is placed, becomes a shipment, and is acknowledged (web, relay, both workers at work)
    code = place_an_order_and_wait_until_it_is_acknowledged(stack)

    # Then no process wrote an INFO line: no "request", "message published" or "message consumed"
    below_warning = [
        (name, record["logger"], record["message"])
        for name, record in records(*sorted(stack.logs.glob("*.log")))
        if record["level"] in ("DEBUG", "INFO")
    ]
    assert code == 201
    assert below_warning == []


@pytest.mark.parametrize("stack_env", [{"LOG_LEVEL": "INFO"}])
def test_log_level_info_gives_the_worker_its_info_lines(stack):
    # Given the live system with LOG_LEVEL=INFO (its workers have no --loglevel, as in the Procfile)
    # When an order is placed and the delivery worker makes its shipment
    code = place_an_order_and_wait_until_it_is_acknowledged(stack)

    # Then the worker logged the message it consumed
    consumed = [
        (record["level"], record["type"], record["result"])
        for _, record in records(stack.logs / "worker-delivery-1.log")
        if record["message"] == "message consumed"
    ]
    assert code == 201
    assert consumed == [("INFO", "order.created", "applied")]

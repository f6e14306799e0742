"""An order's whole life over real Redis, a real Celery worker, the relay and gunicorn."""

import os
import signal
import time

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from rest_framework_simplejwt.tokens import RefreshToken

from config import gunicorn
from delivery.models import DeadLetter as DeliveryDeadLetter
from delivery.models import InboxMessage as DeliveryInbox
from delivery.models import OutboxMessage as DeliveryOutbox
from delivery.models import Shipment
from messaging.models import OutboxState
from sales.models import Order, OrderStatusChange
from sales.models import OutboxMessage as SalesOutbox
from tests.factories import ADDRESS, ClerkFactory, CustomerFactory, ProductFactory
from tests.integration.stack import Stack, wait_until

pytestmark = pytest.mark.integration


def token(user) -> str:
    return str(RefreshToken.for_user(user).access_token)


def all_outboxes_done() -> bool:
    in_flight = [OutboxState.PENDING, OutboxState.AWAITING_ACK]
    return not SalesOutbox.objects.filter(state__in=in_flight).exists() and not (
        DeliveryOutbox.objects.filter(state__in=in_flight).exists()
    )


def acknowledgements(stack: Stack, app: str, result: str) -> float:
    """acknowledgements_total of the stack's processes, as its /metrics would add it up."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(stack.logs / "metrics"))
    return registry.get_sample_value("acknowledgements_total", {"app": app, "result": result}) or 0


def test_order_to_shipment_to_shipped_to_delivered(stack):
    ProductFactory(sku="MUG-1", stock_quantity=10)
    customer, clerk = token(CustomerFactory()), token(ClerkFactory())

    code, order = stack.request(
        "POST", "/api/orders/", {"items": [{"sku": "MUG-1", "quantity": 2}], "shipping_address": ADDRESS}, customer
    )
    assert code == 201
    to_shipment = wait_until(lambda: Shipment.objects.filter(order_id=order["id"]).exists(), timeout=15)
    shipment = Shipment.objects.get(order_id=order["id"])

    code, _ = stack.request("POST", f"/api/delivery/shipments/{shipment.id}/ship/", {"tracking_number": "1Z9"}, clerk)
    assert code == 200
    to_shipped = wait_until(
        lambda: stack.request("GET", f"/api/orders/{order['id']}/", token=customer)[1]["status"] == "shipped",
        timeout=15,
    )

    code, _ = stack.request("POST", f"/api/delivery/shipments/{shipment.id}/deliver/", None, clerk)
    assert code == 200
    to_delivered = wait_until(lambda: Order.objects.get(id=order["id"]).status == "delivered", timeout=15)
    wait_until(all_outboxes_done, timeout=15, what="every message acknowledged")

    print(
        f"\nlifecycle: order→shipment {to_shipment:.3f}s, ship→order shipped {to_shipped:.3f}s,"
        f" deliver→order delivered {to_delivered:.3f}s"
    )
    assert list(OrderStatusChange.objects.values_list("to_status", "source")) == [
        ("pending_shipment", "api"),
        ("shipped", "delivery"),
        ("delivered", "delivery"),
    ]
    assert (SalesOutbox.objects.count(), DeliveryOutbox.objects.count()) == (1, 2)
    assert (acknowledgements(stack, "sales", "applied"), acknowledgements(stack, "delivery", "applied")) == (1, 2)
    assert DeliveryInbox.objects.count() == 1
    assert DeliveryDeadLetter.objects.exists() is False


def test_the_same_raw_message_pushed_twice_is_applied_once(stack):
    ProductFactory(sku="MUG-1", stock_quantity=10)
    code, order = stack.request(
        "POST",
        "/api/orders/",
        {"items": [{"sku": "MUG-1", "quantity": 1}], "shipping_address": ADDRESS},
        token(CustomerFactory()),
    )
    assert code == 201
    wait_until(all_outboxes_done, timeout=15, what="first copy applied and acknowledged")
    envelope = SalesOutbox.objects.get(type="order.created").envelope

    stack.push_raw("delivery.order_created", envelope)
    stack.push_raw("delivery.order_created", envelope)

    # Each copy is acknowledged again, and the relay finds its message done already.
    wait_until(lambda: acknowledgements(stack, "sales", "duplicate") == 2, timeout=15, what="both acknowledged")
    assert Shipment.objects.filter(order_id=order["id"]).count() == 1
    assert DeliveryInbox.objects.count() == 1


def test_a_tampered_message_is_rejected_and_kept_as_a_dead_letter(stack):
    ProductFactory(sku="MUG-1", stock_quantity=10)
    stack.request(
        "POST",
        "/api/orders/",
        {"items": [{"sku": "MUG-1", "quantity": 1}], "shipping_address": ADDRESS},
        token(CustomerFactory()),
    )
    wait_until(all_outboxes_done, timeout=15)
    envelope = SalesOutbox.objects.get(type="order.created").envelope
    forged = {
        **envelope,
        "id": "0b7e4a55-0000-4000-8000-000000000001",
        "payload": {**envelope["payload"], "order_id": "ORD-FORGED"},
    }

    stack.push_raw("delivery.order_created", forged)

    wait_until(lambda: DeliveryDeadLetter.objects.exists(), timeout=15)
    letter = DeliveryDeadLetter.objects.get()
    assert (letter.reason, str(letter.message_id)) == ("bad signature", forged["id"])
    assert Shipment.objects.filter(order_id="ORD-FORGED").exists() is False
    assert Shipment.objects.count() == 1


def test_a_worker_that_dies_by_itself_is_started_again(stack):
    # As a supervisor would in production (kombu 5.7 can crash a worker when Redis dies).
    ProductFactory(sku="MUG-1", stock_quantity=10)
    os.killpg(stack.processes["worker-delivery-1"].pid, signal.SIGKILL)

    wait_until(lambda: stack.worker_restarts == 1, timeout=30, what="worker started again")
    code, order = stack.request(
        "POST", "/api/orders/", {"items": [{"sku": "MUG-1", "quantity": 1}], "shipping_address": ADDRESS},
        token(CustomerFactory()),
    )  # fmt: skip

    assert code == 201
    wait_until(lambda: Shipment.objects.filter(order_id=order["id"]).exists(), timeout=30, what="shipment made")


def test_workers_keep_their_database_connection_from_message_to_message(stack):
    # Celery's Django fix-up would open a new connection for every task (CELERY_DB_REUSE_MAX).
    from django.db import connection

    def sessions_so_far() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush(), pg_stat_clear_snapshot()")
            cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
            return cursor.fetchone()[0]

    ProductFactory(sku="MUG-1", stock_quantity=100)
    customer = token(CustomerFactory())

    def place(count: int) -> None:
        for _ in range(count):
            code, _ = stack.request(
                "POST", "/api/orders/", {"items": [{"sku": "MUG-1", "quantity": 1}], "shipping_address": ADDRESS},
                customer,
            )  # fmt: skip
            assert code == 201
        wait_until(all_outboxes_done, timeout=30, what="every message acknowledged")

    place(4)  # every process has connected by now
    before = sessions_so_far()
    place(10)  # 10 shipments made
    time.sleep(1.5)  # statistics reach pg_stat_database within a second

    # Only a web thread that had not served a request yet may connect now (the kernel picks
    # which process accepts, and each thread keeps a connection of its own); without reuse the
    # workers alone would have connected 10 times.
    assert sessions_so_far() - before <= stack.web_workers * gunicorn.threads


def test_a_worker_whose_database_connection_was_cut_reconnects_for_the_next_message(stack):
    from django.db import connection

    ProductFactory(sku="MUG-1", stock_quantity=100)
    customer = token(CustomerFactory())
    body = {"items": [{"sku": "MUG-1", "quantity": 1}], "shipping_address": ADDRESS}
    assert stack.request("POST", "/api/orders/", body, customer)[0] == 201
    wait_until(all_outboxes_done, timeout=30, what="every message acknowledged")
    with connection.cursor() as cursor:  # as a database restart or failover would
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone()[0] >= 3  # web, both workers, the relay

    code, order = stack.request("POST", "/api/orders/", body, customer)

    assert code == 201
    wait_until(lambda: Shipment.objects.filter(order_id=order["id"]).exists(), timeout=15, what="shipment made")
    wait_until(all_outboxes_done, timeout=30, what="every message acknowledged")
    assert (DeliveryDeadLetter.objects.count(), Shipment.objects.count()) == (0, 2)
    worker_logs = "".join(log.read_text() for log in stack.logs.glob("worker-*.log"))
    assert ("retrying" in worker_logs, "OperationalError" in worker_logs) == (False, False)  # checked, not failed

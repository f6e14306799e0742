"""Cancelling an order on the live system (real Redis, Celery workers, the relay, gunicorn): the
request, delivery's decision and sales applying it, the stock put back exactly once, however the
messages travel (API.md "Cancelling an order", docs/messaging.md).

Everything is asserted through the API (the order, the shipment, the product's stock) except
what it does not show: which messages went out, the order's history, what Redis holds."""

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import redis
from django.test import override_settings
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from delivery.models import InboxMessage as DeliveryInbox
from delivery.models import OutboxMessage as DeliveryOutbox
from sales.models import InboxMessage as SalesInbox
from sales.models import OrderStatusChange
from sales.models import OutboxMessage as SalesOutbox
from tests.factories import ADDRESS, ClerkFactory, CustomerFactory, ProductFactory, StaffFactory
from tests.integration.stack import Stack, wait_until
from tests.integration.test_lifecycle import all_outboxes_done, token

pytestmark = pytest.mark.integration

SKU, NAME, STOCK = "MUG-1", "Enamel mug", 10
REASON = "Ordered the wrong colour"
WAIT = 30  # seconds for a message's effect to show; they take milliseconds on an idle machine
POLL = 0.1  # seconds between API reads while waiting: well within the per-user rate limit


@dataclass(frozen=True, repr=False)  # no tokens in a failure's report
class Shop:
    """The live system as its users see it: two customers, a delivery clerk and staff, and a
    product with STOCK units."""

    stack: Stack
    customer: str  # access tokens
    other: str  # another customer
    clerk: str
    staff: str

    def place(self, quantity: int) -> dict[str, Any]:
        body = {"items": [{"sku": SKU, "quantity": quantity}], "shipping_address": ADDRESS}
        code, order = self.stack.request("POST", "/api/orders/", body, self.customer)
        assert code == 201, order
        return order

    def order(self, order_id: str) -> dict[str, Any]:
        code, order = self.stack.request("GET", f"/api/orders/{order_id}/", token=self.customer)
        assert code == 200, order
        return order

    def cancel(self, order_id: str, token: str | None = None, reason: str = REASON) -> tuple[int, Any]:
        return self.stack.request("POST", f"/api/orders/{order_id}/cancel/", {"reason": reason}, token)

    def stock(self) -> int:
        code, product = self.stack.request("GET", f"/api/products/{SKU}/", token=self.customer)
        assert code == 200, product
        return product["stock_quantity"]

    def shipments(self, order_id: str, status: str = "") -> list[dict[str, Any]]:
        """The order's shipments as the clerk lists them (``?order_id=``), only those in ``status``
        if given."""
        query = f"?order_id={order_id}" + (f"&status={status}" if status else "")
        code, page = self.stack.request("GET", f"/api/delivery/shipments/{query}", token=self.clerk)
        assert code == 200, page
        return page["results"]

    def shipment(self, order_id: str) -> dict[str, Any]:
        [shipment] = self.shipments(order_id)
        return shipment

    def ship(self, shipment_id: str) -> tuple[int, Any]:
        return self.stack.request(
            "POST", f"/api/delivery/shipments/{shipment_id}/ship/", {"tracking_number": "1Z999"}, self.clerk
        )

    def deliver(self, shipment_id: str) -> tuple[int, Any]:
        return self.stack.request("POST", f"/api/delivery/shipments/{shipment_id}/deliver/", None, self.clerk)

    def wait_for_shipment(self, order_id: str) -> dict[str, Any]:
        wait_until(lambda: self.shipments(order_id) != [], timeout=WAIT, interval=POLL, what="shipment made")
        return self.shipment(order_id)

    def wait_for_status(self, order_id: str, status: str) -> dict[str, Any]:
        wait_until(
            lambda: self.order(order_id)["status"] == status, timeout=WAIT, interval=POLL, what=f"order {status}"
        )
        return self.order(order_id)


@pytest.fixture
def shop(stack: Stack) -> Shop:
    ProductFactory(sku=SKU, name=NAME, price="12.50", stock_quantity=STOCK)
    # They use tokens, never a password: the tests' fast hasher will do (the stack fixture set
    # production's, seconds per user here, for users who log in to the live system).
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        customer, other, clerk, staff = CustomerFactory(), CustomerFactory(), ClerkFactory(), StaffFactory()
    return Shop(stack, customer=token(customer), other=token(other), clerk=token(clerk), staff=token(staff))


@pytest.fixture
def broker(stack: Stack) -> Iterator[redis.Redis]:
    """The stack's Redis, where the queues are lists named after them (kombu's Redis transport)."""
    client = redis.Redis(port=stack.redis_port)
    yield client
    client.close()


def task_and_envelope(raw: bytes) -> tuple[str, dict[str, Any]]:
    """The task a queued Celery message calls, and the envelope it carries (messaging.transport)."""
    message = json.loads(raw)
    args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    return message["headers"]["task"], args[0]


def the_one_queued(broker: redis.Redis, queue: str) -> bytes:
    """The one message on ``queue`` once it is there, as Redis holds it."""
    wait_until(lambda: broker.llen(queue) > 0, timeout=WAIT, what=f"a message on {queue}")
    [raw] = broker.lrange(queue, 0, -1)
    return raw


def consumed(stack: Stack, app: str, message_type: str, result: str) -> float:
    """messages_consumed_total of the stack's processes, as its /metrics would add it up."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(stack.logs / "metrics"))
    labels = {"app": app, "type": message_type, "result": result}
    return registry.get_sample_value("messages_consumed_total", labels) or 0


def history(order_id: str) -> list[tuple[str, str, str]]:
    """The order's steps (not shown by the API): from, to, and what caused it."""
    steps = OrderStatusChange.objects.filter(order_id=order_id).order_by("occurred_at", "id")
    return [(step.from_status, step.to_status, step.reason.split(";")[0]) for step in steps]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def requested(order: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """``order`` as the 202 shows it: unchanged but for its open cancellation."""
    cancellation = {
        "state": "requested",
        "reason": REASON,
        "requested_at": answer["cancellation"]["requested_at"],
        "decided_at": None,
    }
    return {**order, "cancellation": cancellation}


def cancelled(order: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """``order`` (with its cancellation requested) as it is once delivery accepted: ``now``
    supplies only the times sales set then."""
    cancellation = {**order["cancellation"], "state": "accepted", "decided_at": now["cancelled_at"]}
    return {
        **order,
        "status": "cancelled",
        "status_display": "Cancelled",
        "updated_at": now["updated_at"],
        "cancelled_at": now["cancelled_at"],
        "cancellation": cancellation,
    }


def test_a_pending_order_is_cancelled_and_its_stock_comes_back(shop):
    # Given an order whose shipment is pending
    order = shop.place(3)
    assert shop.stock() == STOCK - 3
    shipment = shop.wait_for_shipment(order["id"])
    assert shipment["status"] == "pending"
    order = shop.order(order["id"])

    # When its customer cancels it
    code, answer = shop.cancel(order["id"], shop.customer)

    # Then sales records the request and waits for delivery ...
    assert code == 202
    assert answer == requested(order, answer)
    assert answer["status"] == "pending_shipment"
    # ... which cancels the shipment, and sales cancels the order and puts its stock back
    now = shop.wait_for_status(order["id"], "cancelled")
    assert now == cancelled(answer, now)
    assert now["cancelled_at"] is not None
    assert at(answer["cancellation"]["requested_at"]) <= at(now["cancelled_at"])
    assert shop.stock() == STOCK
    shipment = shop.shipment(order["id"])
    assert {key: shipment[key] for key in ("status", "status_display", "items", "shipped_at", "delivered_at")} == {
        "status": "cancelled",
        "status_display": "Cancelled",
        "items": [{"sku": SKU, "name": NAME, "quantity": 3}],
        "shipped_at": None,
        "delivered_at": None,
    }
    assert at(shipment["cancelled_at"]) == at(now["cancelled_at"])  # the order's decided_at is delivery's
    # A cancelled shipment is neither shipped nor delivered.
    detail = {"detail": "This shipment was cancelled; it is neither shipped nor delivered."}
    assert shop.ship(shipment["id"]) == (409, detail)
    assert shop.deliver(shipment["id"]) == (409, detail)
    assert shop.shipment(order["id"]) == shipment

    # When the customer asks again
    again = shop.cancel(order["id"], shop.customer)

    # Then nothing changes, and no further message goes out
    assert again == (202, now)
    wait_until(all_outboxes_done, timeout=WAIT, what="every message acknowledged")
    assert shop.order(order["id"]) == now
    assert shop.stock() == STOCK
    assert sorted(SalesOutbox.objects.values_list("type", flat=True)) == [
        "order.cancellation_requested",
        "order.created",
    ]
    assert sorted(DeliveryOutbox.objects.values_list("type", flat=True)) == ["shipment.cancellation_decided"]
    assert history(order["id"]) == [
        ("", "pending_shipment", "order placed"),
        ("pending_shipment", "pending_shipment", "cancellation requested"),
        ("pending_shipment", "cancelled", "cancellation accepted"),
    ]


def test_an_order_sales_knows_shipped_cannot_be_cancelled(shop):
    # Given an order the clerk shipped, and sales knows it
    order = shop.place(2)
    shipment = shop.wait_for_shipment(order["id"])
    assert shop.ship(shipment["id"])[0] == 200
    shipped = shop.wait_for_status(order["id"], "shipped")

    # When its customer asks to cancel it
    answer = shop.cancel(order["id"], shop.customer)

    # Then the answer is no, and nothing changes
    assert answer == (409, {"detail": "This order has already shipped; it can no longer be cancelled."})
    wait_until(all_outboxes_done, timeout=WAIT, what="every message acknowledged")
    assert shop.order(order["id"]) == shipped
    assert shipped["cancellation"] is None
    assert shop.stock() == STOCK - 2
    assert shop.shipment(order["id"])["status"] == "shipped"
    assert SalesOutbox.objects.filter(type="order.cancellation_requested").exists() is False


def test_a_cancellation_racing_the_clerks_mark_shipped_is_refused(shop):
    # Given a pending shipment, and no worker to carry messages for a while
    order = shop.place(2)
    shipment = shop.wait_for_shipment(order["id"])
    order = shop.order(order["id"])
    shop.stack.kill_workers()

    # When the customer cancels while the clerk marks it shipped
    code, answer = shop.cancel(order["id"], shop.customer)
    assert (code, answer) == (202, requested(order, answer))
    code, shipped = shop.ship(shipment["id"])
    assert (code, shipped["status"]) == (200, "shipped")
    shop.stack.start_workers()

    # Then delivery refuses (the parcel has left): the order ships, no stock comes back
    wait_until(
        lambda: shop.order(order["id"])["cancellation"]["state"] == "refused",
        timeout=WAIT,
        interval=POLL,
        what="cancellation refused",
    )
    now = shop.wait_for_status(order["id"], "shipped")
    assert now["cancelled_at"] is None
    assert now["shipped_at"] is not None
    assert now["cancellation"] == {
        **answer["cancellation"],
        "state": "refused",
        "decided_at": now["cancellation"]["decided_at"],
    }
    assert at(now["cancellation"]["decided_at"]) >= at(answer["cancellation"]["requested_at"])
    assert shop.stock() == STOCK - 2
    assert shop.shipment(order["id"])["status"] == "shipped"

    # And the order carries on to delivered; a cancellation refused stays refused
    assert shop.deliver(shipment["id"])[0] == 200
    delivered = shop.wait_for_status(order["id"], "delivered")
    assert delivered["cancellation"] == now["cancellation"]
    assert shop.cancel(order["id"], shop.customer)[0] == 409
    wait_until(all_outboxes_done, timeout=WAIT, what="every message acknowledged")
    assert shop.stock() == STOCK - 2
    assert OrderStatusChange.objects.filter(order_id=order["id"], to_status="cancelled").exists() is False


def test_cancellation_messages_delivered_again_change_nothing(shop, broker):
    # Given a pending shipment, and no worker running
    order = shop.place(3)
    shop.wait_for_shipment(order["id"])
    shop.stack.kill_workers()

    # When the customer cancels, each message of the exchange is kept as Redis held it
    assert shop.cancel(order["id"], shop.customer)[0] == 202
    request = the_one_queued(broker, "delivery")
    shop.stack.start_worker("worker-delivery-1")
    decision = the_one_queued(broker, "sales")
    shop.stack.start_worker("worker-sales-1")
    now = shop.wait_for_status(order["id"], "cancelled")
    wait_until(all_outboxes_done, timeout=WAIT, what="every message acknowledged")
    assert task_and_envelope(request)[0] == "delivery.order_cancellation_requested"
    assert task_and_envelope(request)[1]["payload"]["order_id"] == order["id"]
    assert task_and_envelope(decision)[0] == "sales.shipment_cancellation_decided"
    assert task_and_envelope(decision)[1]["payload"]["decision"] == "accepted"
    assert shop.stock() == STOCK
    # A message the relay sent again (its acknowledgement late) was a duplicate already.
    resent = {
        "order.cancellation_requested": SalesOutbox.objects.get(type="order.cancellation_requested").attempts - 1,
        "shipment.cancellation_decided": DeliveryOutbox.objects.get(type="shipment.cancellation_decided").attempts - 1,
    }

    # ... and then delivered three times more, the same bytes
    broker.lpush("delivery", request, request, request)
    broker.lpush("sales", decision, decision, decision)

    # Then each copy is consumed as a duplicate and the queues drain ...
    wait_until(
        lambda: (
            (
                consumed(shop.stack, "delivery", "order.cancellation_requested", "duplicate"),
                consumed(shop.stack, "sales", "shipment.cancellation_decided", "duplicate"),
            )
            == (3 + resent["order.cancellation_requested"], 3 + resent["shipment.cancellation_decided"])
        ),
        timeout=WAIT,
        what="every copy consumed",
    )
    wait_until(
        lambda: (broker.llen("delivery"), broker.llen("sales"), broker.hlen("unacked")) == (0, 0, 0),
        timeout=WAIT,
        what="queues drained",
    )
    wait_until(all_outboxes_done, timeout=WAIT, what="every message acknowledged")
    # ... and nothing changed: the stock came back once, the order was cancelled once
    assert shop.order(order["id"]) == now
    assert shop.stock() == STOCK
    assert shop.shipment(order["id"])["status"] == "cancelled"
    assert history(order["id"]) == [
        ("", "pending_shipment", "order placed"),
        ("pending_shipment", "pending_shipment", "cancellation requested"),
        ("pending_shipment", "cancelled", "cancellation accepted"),
    ]
    assert (
        consumed(shop.stack, "delivery", "order.cancellation_requested", "applied"),
        consumed(shop.stack, "sales", "shipment.cancellation_decided", "applied"),
    ) == (1, 1)
    assert DeliveryOutbox.objects.filter(type="shipment.cancellation_decided").count() == 1
    assert (DeliveryInbox.objects.count(), SalesInbox.objects.count()) == (2, 1)


def test_a_cancellation_that_overtakes_its_order_cancels_the_shipment_before_it_exists(shop, broker):
    # Given an order whose order.created message Redis lost (nobody consumed it), and no relay
    # to send it again for now
    shop.stack.kill("relay")
    shop.stack.kill("worker-delivery-1")
    order = shop.place(3)
    created = the_one_queued(broker, "delivery")
    assert task_and_envelope(created)[1]["payload"]["order_id"] == order["id"]
    assert broker.lrem("delivery", 0, created) == 1
    order = shop.order(order["id"])

    # When the customer cancels it, and delivery gets the request before the order
    code, answer = shop.cancel(order["id"], shop.customer)
    assert (code, answer) == (202, requested(order, answer))
    shop.stack.start_worker("worker-delivery-1")

    # Then delivery cancels the shipment it has not had yet, and sales the order
    now = shop.wait_for_status(order["id"], "cancelled")
    assert now == cancelled(answer, now)
    assert shop.stock() == STOCK
    placeholder = shop.shipment(order["id"])
    assert (placeholder["status"], placeholder["items"], placeholder["shipping_address"]) == ("cancelled", [], None)
    assert at(placeholder["cancelled_at"]) == at(now["cancelled_at"])
    assert shop.shipments(order["id"], status="pending") == []

    # When the relay sends order.created again (its acknowledgement overdue)
    shop.stack.start_relay()
    statuses = set()

    def filled_in() -> bool:
        shipment = shop.shipment(order["id"])
        statuses.add(shipment["status"])
        return shipment["items"] != []

    wait_until(filled_in, timeout=WAIT, interval=POLL, what="order.created sent again and consumed")

    # Then the shipment gets its items and address but stays cancelled: nothing to send
    shipment = shop.shipment(order["id"])
    assert statuses == {"cancelled"}
    assert {key: shipment[key] for key in ("id", "status", "items", "cancelled_at")} == {
        "id": placeholder["id"],
        "status": "cancelled",
        "items": [{"sku": SKU, "name": NAME, "quantity": 3}],
        "cancelled_at": placeholder["cancelled_at"],
    }
    assert shipment["shipping_address"] == {**ADDRESS, "line2": ""}
    assert shop.shipments(order["id"], status="pending") == []
    assert shop.ship(shipment["id"])[0] == 409
    # ... and the order stays cancelled, its stock back once
    wait_until(all_outboxes_done, timeout=WAIT, what="every message acknowledged")
    assert SalesOutbox.objects.get(type="order.created").attempts == 2
    assert shop.order(order["id"]) == now
    assert shop.stock() == STOCK
    assert OrderStatusChange.objects.filter(order_id=order["id"], to_status="cancelled").count() == 1


def test_only_the_customer_who_placed_it_and_staff_may_cancel_an_order(shop):
    # Given a pending order
    order = shop.place(2)
    shop.wait_for_shipment(order["id"])
    order = shop.order(order["id"])

    # When another customer, or nobody, asks to cancel it
    by_another = shop.cancel(order["id"], shop.other)
    anonymous = shop.cancel(order["id"])

    # Then the order might as well not exist for them, and nothing changes
    assert by_another == shop.cancel("ORD-0000000000000000", shop.other) == (404, {"detail": "Not found."})
    assert anonymous[0] == 401
    assert shop.order(order["id"]) == order
    assert SalesOutbox.objects.filter(type="order.cancellation_requested").exists() is False

    # When staff cancel it
    code, answer = shop.cancel(order["id"], shop.staff)

    # Then it is cancelled as if its customer had asked
    assert (code, answer) == (202, requested(order, answer))
    now = shop.wait_for_status(order["id"], "cancelled")
    assert now == cancelled(answer, now)
    assert shop.stock() == STOCK

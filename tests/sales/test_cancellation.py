"""Cancelling an order: sales records the request and asks delivery, then applies delivery's
decision once. The same flow over real Redis and workers is in tests/integration."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from django.db import transaction
from django.utils import timezone

from delivery.contracts import ShipmentCancellationDecided
from delivery.models import Shipment
from messaging.transport import task_named
from sales import handlers
from sales.contracts import OrderCancellationRequested
from sales.models import Cancellation, DeadLetter, Order, OrderStatusChange, Product
from sales.models import OutboxMessage as SalesOutbox
from sales.services import (
    CancellationConflict,
    LineRequest,
    OrderAlreadyShipped,
    ShippingAddress,
    order_cancel_request,
    order_cancellation_decide,
    order_place,
    order_status_advance,
)
from tests.clients import bearer_client
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ProductFactory, signed_envelope
from tests.locks import in_another_connection, wait_until_another_transaction_waits_for_this_one

pytestmark = pytest.mark.django_db

T1 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)


@pytest.fixture
def order(customer):
    """A pending order of 2 mugs and 1 tee, whose stock (8 and 4 left) was taken when placed."""
    order = OrderFactory(customer=customer)
    OrderLineFactory(order=order, product=ProductFactory(sku="MUG-1", stock_quantity=8), quantity=2)
    OrderLineFactory(order=order, product=ProductFactory(sku="TEE-M", stock_quantity=4), quantity=1)
    return order


def stock() -> dict[str, int]:
    return dict(Product.objects.values_list("sku", "stock_quantity"))


def history(order: Order) -> list[tuple[str, str, str]]:
    return [(c.from_status, c.to_status, c.reason) for c in OrderStatusChange.objects.filter(order=order)]


def requests_sent() -> list[dict]:
    return [row.envelope["payload"] for row in SalesOutbox.objects.filter(type=OrderCancellationRequested.TYPE)]


# --- asking -----------------------------------------------------------------------------------


def test_a_request_is_recorded_with_its_message_and_the_status_is_unchanged(order, customer):
    asked = order_cancel_request(order_id=order.id, requested_by=customer, source="api", reason="Changed my mind")

    cancellation = Cancellation.objects.get()
    order.refresh_from_db()
    assert (order.status, asked.opened, asked.order.cancellation) == ("pending_shipment", True, cancellation)
    assert (cancellation.state, cancellation.reason, cancellation.requested_by, cancellation.source) == (
        "requested",
        "Changed my mind",
        customer,
        "api",
    )
    assert cancellation.decided_at is None
    assert requests_sent() == [
        {"order_id": order.id, "requested_at": cancellation.requested_at.isoformat(), "reason": "Changed my mind"}
    ]
    assert history(order) == [("pending_shipment", "pending_shipment", "cancellation requested")]


def test_asking_again_while_a_request_is_open_changes_nothing(order, customer, staff):
    order_cancel_request(order_id=order.id, requested_by=customer, source="api", reason="first")

    again = order_cancel_request(order_id=order.id, requested_by=staff, source="admin", reason="second")

    assert (again.opened, again.order.cancellation.reason) == (False, "first")
    assert list(Cancellation.objects.values_list("reason", "requested_by")) == [("first", customer.id)]
    assert (len(requests_sent()), len(history(order))) == (1, 1)


def test_asking_for_a_cancelled_order_changes_nothing(customer):
    order = OrderFactory(customer=customer, status="cancelled", cancelled_at=T1)

    asked = order_cancel_request(order_id=order.id, requested_by=customer, source="api")

    assert (asked.opened, asked.order.status, Cancellation.objects.exists(), requests_sent()) == (
        False,
        "cancelled",
        False,
        [],
    )


@pytest.mark.parametrize("status", ["shipped", "delivered"])
def test_an_order_sales_knows_shipped_cannot_be_cancelled(customer, status):
    order = OrderFactory(customer=customer, status=status, shipped_at=T1)

    with pytest.raises(OrderAlreadyShipped):
        order_cancel_request(order_id=order.id, requested_by=customer, source="api")

    assert (Cancellation.objects.exists(), requests_sent()) == (False, [])


def test_an_order_delivery_refused_to_cancel_cannot_be_asked_again(order, customer):
    order_cancel_request(order_id=order.id, requested_by=customer, source="api")
    order_cancellation_decide(order_id=order.id, accepted=False, decided_at=T1, source="delivery")

    with pytest.raises(OrderAlreadyShipped):
        order_cancel_request(order_id=order.id, requested_by=customer, source="api")

    assert len(requests_sent()) == 1


# --- delivery's decision ----------------------------------------------------------------------


def test_an_accepted_cancellation_cancels_the_order_and_puts_the_stock_back_once(order, customer):
    order_cancel_request(order_id=order.id, requested_by=customer, source="api")

    first = order_cancellation_decide(order_id=order.id, accepted=True, decided_at=T1, source="delivery", reason="m1")
    again = order_cancellation_decide(order_id=order.id, accepted=True, decided_at=T2, source="delivery", reason="m2")

    order.refresh_from_db()
    cancellation = Cancellation.objects.get()
    assert (first, again) == (True, False)
    assert (order.status, order.cancelled_at, cancellation.state, cancellation.decided_at) == (
        "cancelled",
        T1,
        "accepted",
        T1,
    )
    assert stock() == {"MUG-1": 10, "TEE-M": 5}
    assert history(order) == [
        ("pending_shipment", "pending_shipment", "cancellation requested"),
        ("pending_shipment", "cancelled", "cancellation accepted; m1"),
    ]


def test_a_refused_cancellation_leaves_the_order_to_ship(order, customer):
    order_cancel_request(order_id=order.id, requested_by=customer, source="api")

    first = order_cancellation_decide(order_id=order.id, accepted=False, decided_at=T1, source="delivery", reason="m1")
    again = order_cancellation_decide(order_id=order.id, accepted=False, decided_at=T2, source="delivery")
    shipped = order_status_advance(order_id=order.id, status="shipped", occurred_at=T2, source="delivery")

    order.refresh_from_db()
    cancellation = Cancellation.objects.get()
    assert (first, again, shipped.to_status) == (True, False, "shipped")
    assert (order.status, order.cancelled_at, cancellation.state, cancellation.decided_at) == (
        "shipped",
        None,
        "refused",
        T1,
    )
    assert stock() == {"MUG-1": 8, "TEE-M": 4}
    assert history(order)[1:] == [
        ("pending_shipment", "pending_shipment", "cancellation refused; m1"),
        ("pending_shipment", "shipped", ""),
    ]


@pytest.mark.parametrize("accepted", [True, False], ids=["accepted", "refused"])
def test_a_decision_without_a_reason_is_recorded_without_one(order, customer, accepted):
    order_cancel_request(order_id=order.id, requested_by=customer, source="api")

    order_cancellation_decide(order_id=order.id, accepted=accepted, decided_at=T1, source="delivery")

    to_status, reason = (
        ("cancelled", "cancellation accepted") if accepted else ("pending_shipment", "cancellation refused")
    )
    assert history(order)[1:] == [("pending_shipment", to_status, reason)]


def test_restocked_products_are_stamped_with_the_restock_not_the_decision(order, customer):
    order_cancel_request(order_id=order.id, requested_by=customer, source="api")
    before = timezone.now()

    order_cancellation_decide(order_id=order.id, accepted=True, decided_at=T1, source="delivery")

    stamps = list(Product.objects.order_by("sku").values_list("updated_at", flat=True))
    assert [before <= stamp <= timezone.now() for stamp in stamps] == [True, True]


def test_a_refusal_after_the_shipped_update_still_records_the_decision(order, customer):
    order_cancel_request(order_id=order.id, requested_by=customer, source="api")
    order_status_advance(order_id=order.id, status="shipped", occurred_at=T1, source="delivery")

    assert order_cancellation_decide(order_id=order.id, accepted=False, decided_at=T2, source="delivery") is True

    order.refresh_from_db()
    assert (order.status, order.cancellation.state) == ("shipped", "refused")


def test_a_cancellation_delivery_made_unasked_is_applied(order):
    assert order_cancellation_decide(order_id=order.id, accepted=True, decided_at=T1, source="delivery") is True

    cancellation = Cancellation.objects.get()
    order.refresh_from_db()
    assert (order.status, cancellation.state, cancellation.requested_by, cancellation.requested_at) == (
        "cancelled",
        "accepted",
        None,
        T1,
    )
    assert stock() == {"MUG-1": 10, "TEE-M": 5}


@pytest.mark.parametrize(
    ("first", "then"),
    [(True, False), (False, True)],
    ids=["refused after accepted", "accepted after refused"],
)
def test_a_decision_that_contradicts_the_first_is_refused(order, customer, first, then):
    order_cancel_request(order_id=order.id, requested_by=customer, source="api")
    order_cancellation_decide(order_id=order.id, accepted=first, decided_at=T1, source="delivery")
    before = stock()

    # In a transaction of its own, as a consumer's: the conflict rolls it back.
    with pytest.raises(CancellationConflict), transaction.atomic():
        order_cancellation_decide(order_id=order.id, accepted=then, decided_at=T2, source="delivery")

    assert (Cancellation.objects.get().state, stock()) == ("accepted" if first else "refused", before)


def test_an_acceptance_for_an_order_sales_knows_shipped_is_refused(order):
    order_status_advance(order_id=order.id, status="shipped", occurred_at=T1, source="delivery")

    with pytest.raises(CancellationConflict), transaction.atomic():
        order_cancellation_decide(order_id=order.id, accepted=True, decided_at=T2, source="delivery")

    order.refresh_from_db()
    assert (order.status, stock()) == ("shipped", {"MUG-1": 8, "TEE-M": 4})


# --- the consumer -----------------------------------------------------------------------------


def decided(order: Order, decision: str, message_id: uuid.UUID) -> dict:
    message = ShipmentCancellationDecided(
        shipment_id="SHP-0000000000000001", order_id=order.id, decision=decision, decided_at=T1.isoformat()
    )
    return signed_envelope(id=message_id, type=message.TYPE, message=message, source="delivery")


def test_a_decision_message_is_applied_once_however_often_it_comes(order, customer, broker):
    order_cancel_request(order_id=order.id, requested_by=customer, source="api")
    envelope = decided(order, "accepted", uuid.uuid4())

    outcomes = [handlers.shipment_cancellation_decided(envelope) for _ in range(3)]
    # Delivery answers a repeated request again, in a message of its own: the state decides.
    another = handlers.shipment_cancellation_decided(decided(order, "accepted", uuid.uuid4()))

    order.refresh_from_db()
    assert (outcomes, another) == (["applied", "duplicate", "duplicate"], "applied")
    assert (order.status, order.cancelled_at, stock()) == ("cancelled", T1, {"MUG-1": 10, "TEE-M": 5})


def test_a_contradicting_decision_message_becomes_a_dead_letter(order, customer, broker):
    order_cancel_request(order_id=order.id, requested_by=customer, source="api")
    task = task_named("sales.shipment_cancellation_decided")
    task.apply(args=[decided(order, "refused", uuid.uuid4())])

    task.apply(args=[decided(order, "accepted", uuid.uuid4())])

    order.refresh_from_db()
    assert (order.status, order.cancellation.state) == ("pending_shipment", "refused")
    assert list(DeadLetter.objects.values_list("reason", "task_name")) == [
        ("failed", "sales.shipment_cancellation_decided")
    ]


def test_a_decision_with_an_unknown_answer_is_rejected(order, broker):
    envelope = decided(order, "accepted", uuid.uuid4())
    envelope = {**envelope, "payload": {**envelope["payload"], "decision": "maybe"}}
    relabelled = signed_envelope(
        id=envelope["id"],
        type=ShipmentCancellationDecided.TYPE,
        message=_RawPayload(envelope["payload"]),
        source="delivery",
    )

    assert handlers.shipment_cancellation_decided(relabelled) == "rejected"
    assert Cancellation.objects.exists() is False


class _RawPayload:
    """A payload as a broken or hostile sender might write it, signed all the same."""

    VERSION = 1

    def __init__(self, payload: dict) -> None:
        self.payload = payload

    def to_dict(self) -> dict:
        return self.payload


# --- the whole flow in one process ------------------------------------------------------------

ADDRESS = ShippingAddress(name="Ada", line1="Main St 1", city="Berlin", postal_code="10115", country="DE")


def test_a_placed_order_cancelled_before_it_ships_ends_cancelled_everywhere(
    customer, mug, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        placed = order_place(customer=customer, lines=[LineRequest(sku="MUG-1", quantity=3)], shipping_address=ADDRESS)
    assert Product.objects.get().stock_quantity == 7

    with django_capture_on_commit_callbacks(execute=True):
        order_cancel_request(order_id=placed.id, requested_by=customer, source="api")

    order, shipment = Order.objects.get(), Shipment.objects.get()
    assert broker.types() == ["order.created", "order.cancellation_requested", "shipment.cancellation_decided"]
    assert (order.status, order.cancellation.state, shipment.status) == ("cancelled", "accepted", "cancelled")
    assert order.cancelled_at == shipment.cancelled_at
    assert Product.objects.get().stock_quantity == 10


# --- the API ----------------------------------------------------------------------------------


def test_the_customer_cancels_with_202_and_the_order(order, customer_client):
    response = customer_client.post(f"/api/orders/{order.id}/cancel/", {"reason": "Too late"}, format="json")

    body = response.json()
    cancellation = Cancellation.objects.get()
    assert response.status_code == 202
    assert (body["id"], body["status"], body["status_display"], body["cancelled_at"]) == (
        order.id,
        "pending_shipment",
        "Pending Shipment",
        None,
    )
    assert body["cancellation"] == {
        "state": "requested",
        "reason": "Too late",
        "requested_at": cancellation.requested_at.isoformat().replace("+00:00", "Z"),
        "decided_at": None,
    }
    assert [item["sku"] for item in body["items"]] == ["MUG-1", "TEE-M"]


def test_a_body_is_optional_and_asking_again_answers_the_same(order, customer_client):
    first = customer_client.post(f"/api/orders/{order.id}/cancel/")
    again = customer_client.post(f"/api/orders/{order.id}/cancel/", {"reason": "again"}, format="json")

    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json() == again.json()
    assert (first.json()["cancellation"]["reason"], len(requests_sent())) == ("", 1)


def test_staff_may_cancel_anyones_order(order, staff_client, staff):
    response = staff_client.post(f"/api/orders/{order.id}/cancel/")

    assert response.status_code == 202
    assert Cancellation.objects.get().requested_by == staff


def test_another_customers_order_is_404_and_untouched(order):
    response = bearer_client(CustomerFactory()).post(f"/api/orders/{order.id}/cancel/")

    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
    assert (Cancellation.objects.exists(), requests_sent()) == (False, [])


def test_an_unknown_order_is_404(customer_client):
    response = customer_client.post("/api/orders/ORD-0000000000000000/cancel/")

    assert response.status_code == 404


def test_anonymous_is_401(order, anon_client):
    response = anon_client.post(f"/api/orders/{order.id}/cancel/")

    assert response.status_code == 401
    assert Cancellation.objects.exists() is False


def test_a_shipped_order_is_409(customer, customer_client):
    order = OrderFactory(customer=customer, status="shipped", shipped_at=T1)

    response = customer_client.post(f"/api/orders/{order.id}/cancel/")

    assert (response.status_code, response.json()) == (
        409,
        {"detail": "This order has already shipped; it can no longer be cancelled."},
    )


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"reason": "x" * 201}, {"reason": ["Ensure this field has no more than 200 characters."]}),
        ({"reason": ["a"]}, {"reason": ["Not a valid string."]}),
        ({"reason": None}, {"reason": ["This field may not be null."]}),
        (["reason"], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
    ],
)
def test_a_bad_reason_is_400_and_nothing_is_asked(order, customer_client, body, errors):
    response = customer_client.post(f"/api/orders/{order.id}/cancel/", body, format="json")

    assert (response.status_code, response.json()) == (400, {"detail": "Invalid input.", **errors})
    assert Cancellation.objects.exists() is False


def test_cancelled_orders_are_listed_by_status(customer, customer_client):
    cancelled = OrderFactory(customer=customer, status="cancelled", cancelled_at=T1)
    OrderFactory(customer=customer)

    response = customer_client.get("/api/orders/?status=cancelled")

    assert [order["id"] for order in response.json()["results"]] == [cancelled.id]
    assert response.json()["results"][0]["status_display"] == "Cancelled"


# --- at the same moment -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_ask_delivery_once(order, customer, staff):
    with ThreadPoolExecutor(max_workers=1) as pool:
        with transaction.atomic():
            first = order_cancel_request(order_id=order.id, requested_by=customer, source="api", reason="first")
            second = pool.submit(
                in_another_connection,
                order_cancel_request,
                order_id=order.id,
                requested_by=staff,
                source="admin",
                reason="second",
            )
            wait_until_another_transaction_waits_for_this_one()

        repeat = second.result(timeout=10)

    assert (first.opened, repeat.opened) == (True, False)
    assert (repeat.order.cancellation.state, repeat.order.cancellation.reason) == ("requested", "first")
    assert (Cancellation.objects.count(), len(requests_sent()), len(history(order))) == (1, 1, 1)


@pytest.mark.django_db(transaction=True)
def test_a_request_while_a_refusal_is_applied_sees_the_refusal(order, customer):
    order_cancel_request(order_id=order.id, requested_by=customer, source="api")

    with ThreadPoolExecutor(max_workers=1) as pool:
        with transaction.atomic():
            order_cancellation_decide(order_id=order.id, accepted=False, decided_at=T1, source="delivery")
            again = pool.submit(
                in_another_connection, order_cancel_request, order_id=order.id, requested_by=customer, source="api"
            )
            wait_until_another_transaction_waits_for_this_one()

        with pytest.raises(OrderAlreadyShipped):
            again.result(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_a_request_while_an_acceptance_is_applied_sees_the_order_cancelled(order, customer):
    order_cancel_request(order_id=order.id, requested_by=customer, source="api")

    with ThreadPoolExecutor(max_workers=1) as pool:
        with transaction.atomic():
            order_cancellation_decide(order_id=order.id, accepted=True, decided_at=T1, source="delivery")
            again = pool.submit(
                in_another_connection, order_cancel_request, order_id=order.id, requested_by=customer, source="api"
            )
            wait_until_another_transaction_waits_for_this_one()

        repeat = again.result(timeout=10)

    assert (repeat.opened, repeat.order.status, repeat.order.cancellation.state) == (False, "cancelled", "accepted")
    assert repeat.order.cancellation.decided_at == T1


@pytest.mark.parametrize("accepted", [True, False], ids=["accepted", "refused"])
@pytest.mark.django_db(transaction=True)
def test_two_copies_of_a_decision_at_once_apply_it_once(order, customer, accepted):
    order_cancel_request(order_id=order.id, requested_by=customer, source="api")

    with ThreadPoolExecutor(max_workers=1) as pool:
        with transaction.atomic():
            first = order_cancellation_decide(order_id=order.id, accepted=accepted, decided_at=T1, source="delivery")
            second = pool.submit(
                in_another_connection,
                order_cancellation_decide,
                order_id=order.id,
                accepted=accepted,
                decided_at=T2,
                source="delivery",
            )
            wait_until_another_transaction_waits_for_this_one()

        again = second.result(timeout=10)

    assert (first, again) == (True, False)
    assert stock() == ({"MUG-1": 10, "TEE-M": 5} if accepted else {"MUG-1": 8, "TEE-M": 4})
    assert len(history(order)) == 2  # the request, and the decision once

"""Delivery deciding a cancellation: under the shipment's row lock, before or after its order
arrived, and what a cancelled shipment refuses."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from django.db import transaction

from delivery.contracts import ShipmentCancellationDecided
from delivery.models import OutboxMessage, Shipment
from delivery.services import (
    ShipmentCancelled,
    shipment_cancel,
    shipment_create,
    shipment_mark_delivered,
    shipment_mark_shipped,
)
from tests.delivery.test_services import ORDER, ORDER_AGAIN
from tests.factories import ShipmentFactory
from tests.locks import in_another_connection, wait_until_another_transaction_waits_for_this_one

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def decisions() -> list[tuple[str, str, str, str]]:
    """The answers delivery's outbox holds for sales: (shipment, order, decision, decided_at)."""
    answers = []
    for row in OutboxMessage.objects.order_by("created_at"):
        assert row.type == ShipmentCancellationDecided.TYPE
        message = ShipmentCancellationDecided.from_dict(row.envelope["payload"])
        answers.append((message.shipment_id, message.order_id, message.decision, message.decided_at))
    return answers


def test_a_pending_shipment_is_cancelled_and_sales_told_it_was_accepted():
    shipment = ShipmentFactory()

    decision = shipment_cancel(order_id=shipment.order_id)

    shipment.refresh_from_db()
    assert (decision.accepted, decision.changed, shipment.status) == (True, True, "cancelled")
    assert shipment.cancelled_at is not None
    assert decisions() == [(shipment.id, shipment.order_id, "accepted", shipment.cancelled_at.isoformat())]


def test_a_repeated_request_is_accepted_again_with_the_first_cancellation_time():
    shipment = ShipmentFactory()
    shipment_cancel(order_id=shipment.order_id)

    again = shipment_cancel(order_id=shipment.order_id)

    shipment.refresh_from_db()
    assert (again.accepted, again.changed, shipment.status) == (True, False, "cancelled")
    first_answer = (shipment.id, shipment.order_id, "accepted", shipment.cancelled_at.isoformat())
    assert decisions() == [first_answer, first_answer]


@pytest.mark.parametrize("status", ["shipped", "delivered"])
def test_a_shipment_that_left_is_not_cancelled_and_sales_told_it_was_refused(status):
    shipment = ShipmentFactory(status=status, shipped_at=T0, delivered_at=T0 if status == "delivered" else None)

    decision = shipment_cancel(order_id=shipment.order_id)

    shipment.refresh_from_db()
    assert (decision.accepted, decision.changed, shipment.status, shipment.cancelled_at) == (
        False,
        False,
        status,
        None,
    )
    [(shipment_id, order_id, answer, _)] = decisions()
    assert (shipment_id, order_id, answer) == (shipment.id, shipment.order_id, "refused")


def test_a_cancellation_before_its_order_makes_a_cancelled_shipment_the_order_fills_in():
    decision = shipment_cancel(order_id=ORDER["order_id"])
    placeholder = Shipment.objects.get()
    assert (decision.accepted, decision.changed) == (True, True)
    assert (placeholder.status, placeholder.items, placeholder.shipping_address, placeholder.order_created_at) == (
        "cancelled",
        [],
        None,
        None,
    )

    created = shipment_create(**ORDER)
    created_again = shipment_create(**ORDER_AGAIN)

    shipment = Shipment.objects.get()
    assert (created, created_again) == (False, False)
    assert (shipment.id, shipment.status, shipment.cancelled_at) == (
        placeholder.id,
        "cancelled",
        placeholder.cancelled_at,
    )
    assert (shipment.items, shipment.shipping_address, shipment.order_created_at) == (
        [{"sku": "MUG-1", "name": "Mug", "quantity": 3}],
        ORDER["shipping_address"],
        ORDER["order_created_at"],
    )
    assert decisions() == [(placeholder.id, ORDER["order_id"], "accepted", placeholder.cancelled_at.isoformat())]


@pytest.mark.parametrize("action", [shipment_mark_shipped, shipment_mark_delivered])
def test_a_cancelled_shipment_is_neither_shipped_nor_delivered(action):
    shipment = ShipmentFactory(status="cancelled", cancelled_at=T0)

    with pytest.raises(ShipmentCancelled):
        action(shipment_id=shipment.id)

    shipment.refresh_from_db()
    assert (shipment.status, shipment.shipped_at, OutboxMessage.objects.count()) == ("cancelled", None, 0)


@pytest.mark.django_db(transaction=True)
def test_a_cancellation_while_the_clerk_ships_waits_for_the_clerk_and_is_refused():
    shipment = ShipmentFactory()

    with ThreadPoolExecutor(max_workers=1) as pool:
        with transaction.atomic():
            shipment_mark_shipped(shipment_id=shipment.id)
            cancel = pool.submit(in_another_connection, shipment_cancel, order_id=shipment.order_id)
            wait_until_another_transaction_waits_for_this_one()

        decision = cancel.result(timeout=10)

    shipment.refresh_from_db()
    assert (decision.accepted, shipment.status) == (False, "shipped")


@pytest.mark.django_db(transaction=True)
def test_the_clerk_shipping_while_a_cancellation_is_decided_waits_and_finds_it_cancelled():
    shipment = ShipmentFactory()

    with ThreadPoolExecutor(max_workers=1) as pool:
        with transaction.atomic():
            shipment_cancel(order_id=shipment.order_id)
            ship = pool.submit(in_another_connection, shipment_mark_shipped, shipment_id=shipment.id)
            wait_until_another_transaction_waits_for_this_one()

        with pytest.raises(ShipmentCancelled):
            ship.result(timeout=10)

    shipment.refresh_from_db()
    assert (shipment.status, shipment.shipped_at) == ("cancelled", None)


@pytest.mark.django_db(transaction=True)
def test_an_order_arriving_while_its_cancellation_is_decided_stays_cancelled():
    with ThreadPoolExecutor(max_workers=1) as pool:
        with transaction.atomic():
            shipment_cancel(order_id=ORDER["order_id"])
            create = pool.submit(in_another_connection, shipment_create, **ORDER)
            wait_until_another_transaction_waits_for_this_one()

        assert create.result(timeout=10) is False

    shipment = Shipment.objects.get()
    assert (shipment.status, shipment.items) == ("cancelled", [{"sku": "MUG-1", "name": "Mug", "quantity": 3}])


@pytest.mark.django_db(transaction=True)
def test_a_cancellation_arriving_while_its_order_is_being_created_cancels_the_new_shipment():
    with ThreadPoolExecutor(max_workers=1) as pool:
        with transaction.atomic():
            assert shipment_create(**ORDER) is True
            cancel = pool.submit(in_another_connection, shipment_cancel, order_id=ORDER["order_id"])
            wait_until_another_transaction_waits_for_this_one()

        decision = cancel.result(timeout=10)

    shipment = Shipment.objects.get()
    assert (decision.accepted, decision.changed, shipment.status) == (True, True, "cancelled")

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from delivery.models import OutboxMessage, Shipment
from delivery.services import (
    ShipmentItem,
    ShipmentNotShipped,
    shipment_create,
    shipment_mark_delivered,
    shipment_mark_shipped,
)
from tests.factories import ShipmentFactory
from tests.locks import in_another_connection, wait_until_another_transaction_waits_for_this_one

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def shipment_in(status: str) -> Shipment:
    return ShipmentFactory(
        status=status,
        shipped_at=None if status == "pending" else T0,
        delivered_at=T0 if status == "delivered" else None,
    )


@pytest.mark.parametrize(
    ("start", "action", "end", "changed"),
    [
        ("pending", shipment_mark_shipped, "shipped", True),
        ("shipped", shipment_mark_shipped, "shipped", False),
        ("shipped", shipment_mark_delivered, "delivered", True),
        ("delivered", shipment_mark_shipped, "delivered", False),
        ("delivered", shipment_mark_delivered, "delivered", False),
    ],
)
def test_shipment_status_only_moves_forward(start, action, end, changed):
    shipment = shipment_in(start)

    change = action(shipment_id=shipment.id)

    shipment.refresh_from_db()
    assert (change.changed, change.shipment.status, shipment.status) == (changed, end, end)
    assert OutboxMessage.objects.count() == int(changed)


def test_a_pending_shipment_cannot_be_delivered():
    shipment = shipment_in("pending")

    with pytest.raises(ShipmentNotShipped):
        shipment_mark_delivered(shipment_id=shipment.id)

    shipment.refresh_from_db()
    assert (shipment.status, OutboxMessage.objects.count()) == ("pending", 0)


def test_a_second_ship_keeps_the_first_tracking_number():
    shipment = shipment_in("pending")
    shipment_mark_shipped(shipment_id=shipment.id, tracking_number="FIRST")

    shipment_mark_shipped(shipment_id=shipment.id, tracking_number="SECOND")

    shipment.refresh_from_db()
    assert shipment.tracking_number == "FIRST"


# An order as delivery's consumer hands it to shipment_create.
ORDER = {
    "order_id": "ORD-ONE",
    "items": [ShipmentItem(sku="MUG-1", name="Mug", quantity=3)],
    "shipping_address": {"name": "Ada", "line1": "Main St 1", "line2": "", "city": "Berlin",
                         "postal_code": "10115", "country": "DE"},
    "order_created_at": datetime(2026, 11, 28, 10, 0, tzinfo=UTC),
}  # fmt: skip
# The same order again, as a second message would bring it, with other items.
ORDER_AGAIN = {**ORDER, "items": [ShipmentItem(sku="TEE", name="Tee", quantity=1)]}


def test_one_shipment_per_order_whatever_the_number_of_calls():
    first = shipment_create(**ORDER)
    second = shipment_create(**ORDER_AGAIN)

    shipment = Shipment.objects.get()
    assert (first, second) == (True, False)
    assert (shipment.order_id, shipment.status, shipment.items, shipment.order_created_at) == (
        "ORD-ONE",
        "pending",
        [{"sku": "MUG-1", "name": "Mug", "quantity": 3}],
        datetime(2026, 11, 28, 10, 0, tzinfo=UTC),
    )
    assert shipment.shipping_address == ORDER["shipping_address"]
    assert re.fullmatch(r"SHP-[0-9A-HJKMNP-TV-Z]{16}", shipment.id)


@pytest.mark.django_db(transaction=True)
def test_a_create_for_an_order_whose_shipment_is_being_created_waits_and_creates_nothing():
    with ThreadPoolExecutor(max_workers=1) as pool:
        with transaction.atomic():
            first = shipment_create(**ORDER)
            second = pool.submit(in_another_connection, shipment_create, **ORDER_AGAIN)
            wait_until_another_transaction_waits_for_this_one()

        assert (first, second.result(timeout=10)) == (True, False)
    assert Shipment.objects.get().items == [{"sku": "MUG-1", "name": "Mug", "quantity": 3}]


def test_a_shipment_id_drawn_twice_fails_instead_of_losing_the_shipment(monkeypatch):
    taken = ShipmentFactory()
    monkeypatch.setattr("delivery.services.new_shipment_id", lambda: taken.id)

    with pytest.raises(IntegrityError, match="delivery_shipment_pkey"), transaction.atomic():
        shipment_create(**ORDER)

    assert list(Shipment.objects.values_list("id", "order_id")) == [(taken.id, taken.order_id)]

from datetime import UTC, datetime

import pytest

from delivery.models import OutboxMessage, Shipment
from delivery.services import (
    ShipmentItem,
    ShipmentNotShipped,
    shipment_create,
    shipment_mark_delivered,
    shipment_mark_shipped,
)
from tests.factories import ShipmentFactory

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


def test_one_shipment_per_order_whatever_the_number_of_calls():
    order = {
        "order_id": "ORD-ONE",
        "items": [ShipmentItem(sku="MUG-1", name="Mug", quantity=3)],
        "shipping_address": {"name": "Ada", "line1": "Main St 1", "line2": "", "city": "Berlin",
                             "postal_code": "10115", "country": "DE"},
        "order_created_at": datetime(2026, 11, 28, 10, 0, tzinfo=UTC),
    }  # fmt: skip

    first = shipment_create(**order)
    second = shipment_create(**order)

    assert first.pk == second.pk
    assert Shipment.objects.count() == 1
    assert (first.items, first.order_created_at) == (
        [{"sku": "MUG-1", "name": "Mug", "quantity": 3}],
        datetime(2026, 11, 28, 10, 0, tzinfo=UTC),
    )

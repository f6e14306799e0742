from datetime import UTC, datetime

import pytest

from sales.models import Order, OrderStatusChange
from sales.services import order_status_advance
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

T1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 3, 17, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "target", "moved", "shipped_at", "delivered_at"),
    [
        ("pending_shipment", "shipped", True, T2, None),
        ("pending_shipment", "delivered", True, T2, T2),
        ("shipped", "delivered", True, T1, T2),
        ("shipped", "shipped", False, T1, None),
        ("delivered", "shipped", False, T1, T1),
        ("delivered", "delivered", False, T1, T1),
    ],
)
def test_status_only_moves_forward(start, target, moved, shipped_at, delivered_at):
    order = OrderFactory(
        status=start,
        shipped_at=None if start == "pending_shipment" else T1,
        delivered_at=T1 if start == "delivered" else None,
    )

    change = order_status_advance(order_id=order.id, status=target, occurred_at=T2, source="delivery", reason="m-1")

    order.refresh_from_db()
    expected_status = target if moved else start
    assert (change is not None) is moved
    assert (order.status, order.shipped_at, order.delivered_at) == (expected_status, shipped_at, delivered_at)
    assert OrderStatusChange.objects.count() == int(moved)


def test_each_step_is_recorded_with_its_source_and_reason():
    order = OrderFactory()

    order_status_advance(order_id=order.id, status="shipped", occurred_at=T1, source="delivery", reason="msg-1")
    order_status_advance(order_id=order.id, status="delivered", occurred_at=T2, source="delivery", reason="msg-2")

    assert list(
        OrderStatusChange.objects.values_list("from_status", "to_status", "source", "reason", "occurred_at")
    ) == [
        ("pending_shipment", "shipped", "delivery", "msg-1", T1),
        ("shipped", "delivered", "delivery", "msg-2", T2),
    ]


def test_a_late_shipped_after_delivered_changes_nothing():
    order = OrderFactory()
    order_status_advance(order_id=order.id, status="delivered", occurred_at=T2, source="delivery")

    late = order_status_advance(order_id=order.id, status="shipped", occurred_at=T1, source="delivery")

    order.refresh_from_db()
    assert late is None
    assert (order.status, order.shipped_at, order.delivered_at) == ("delivered", T2, T2)


@pytest.mark.parametrize("status", ["pending_shipment", "cancelled"])
def test_a_delivery_update_cannot_move_an_order_back_to_pending_or_cancel_it(status):
    order = OrderFactory(status="shipped", shipped_at=T1)

    with pytest.raises(ValueError, match=f"A delivery update cannot move an order to {status}"):
        order_status_advance(order_id=order.id, status=status, occurred_at=T2, source="admin")

    order.refresh_from_db()
    assert order.status == "shipped"


@pytest.mark.parametrize("status", ["shipped", "delivered"])
def test_a_cancelled_order_stays_cancelled(status):
    order = OrderFactory(status="cancelled", cancelled_at=T1)

    assert order_status_advance(order_id=order.id, status=status, occurred_at=T2, source="delivery") is None

    order.refresh_from_db()
    assert (order.status, order.shipped_at, order.delivered_at, order.cancelled_at) == ("cancelled", None, None, T1)


def test_an_unknown_status_is_refused():
    order = OrderFactory()

    with pytest.raises(ValueError, match="'lost' is not a valid OrderStatus"):
        order_status_advance(order_id=order.id, status="lost", occurred_at=T2, source="admin")


def test_an_unknown_order_raises():
    with pytest.raises(Order.DoesNotExist):
        order_status_advance(order_id="ORD-MISSING", status="shipped", occurred_at=T1, source="delivery")

"""Sales consuming shipment.status_changed: the statements each copy of a message takes."""

import uuid
from dataclasses import replace

import pytest

from sales import handlers
from sales.models import Order, OrderStatusChange
from sales.models import OutboxMessage as SalesOutbox
from tests.factories import SHIPMENT_SHIPPED, OrderFactory, SalesInboxMessageFactory, signed_envelope

pytestmark = pytest.mark.django_db

SHIPPED_ID = uuid.UUID("5e0c7a2b-3f41-4d6e-8a9b-0c1d2e3f4a5b")


def shipped(order: Order) -> dict:
    message = replace(SHIPMENT_SHIPPED, order_id=order.id)
    return signed_envelope(id=SHIPPED_ID, type=message.TYPE, message=message, source="delivery")


@pytest.mark.parametrize(
    ("status", "statements", "status_after", "changes"),
    [
        # savepoint (the test's transaction stands for the worker's), inbox, lock the order,
        # its status change, the order, release (the acknowledgement goes to Redis after commit)
        ("pending_shipment", 6, "shipped", 1),
        # a late copy: savepoint, inbox, lock the order (already further on), release
        ("delivered", 4, "delivered", 0),
    ],
)
def test_consuming_a_first_copy_takes_a_fixed_number_of_statements(
    broker, django_assert_num_queries, status, statements, status_after, changes
):
    order = OrderFactory(status=status)
    broker.deliver = False

    with django_assert_num_queries(statements):
        outcome = handlers.shipment_status_changed(shipped(order))

    order.refresh_from_db()
    assert (outcome, order.status, OrderStatusChange.objects.count()) == ("applied", status_after, changes)


def test_consuming_a_duplicate_takes_three_statements(broker, django_assert_num_queries):
    order = OrderFactory()
    SalesInboxMessageFactory(message_id=SHIPPED_ID)
    broker.deliver = False

    # savepoint, inbox (already there), release
    with django_assert_num_queries(3):
        outcome = handlers.shipment_status_changed(shipped(order))

    order.refresh_from_db()
    assert (outcome, order.status, SalesOutbox.objects.count()) == ("duplicate", "pending_shipment", 0)

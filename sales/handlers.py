"""How sales applies the messages it receives: each handler turns the other department's
contract into sales' own arguments."""

from delivery.contracts import ACCEPTED, DELIVERED, SHIPPED, ShipmentCancellationDecided, ShipmentStatusChanged
from messaging.consumer import Outcome, consume
from messaging.envelope import Envelope
from sales.models import OrderStatus
from sales.services import order_cancellation_decide, order_status_advance

# Delivery's shipment statuses, as the order statuses they move an order to.
ORDER_STATUS_FOR = {SHIPPED: OrderStatus.SHIPPED, DELIVERED: OrderStatus.DELIVERED}


def shipment_status_changed(envelope: dict) -> Outcome:
    return consume(
        envelope,
        app_label="sales",
        task_name="sales.shipment_status_changed",
        contract=ShipmentStatusChanged,
        apply=_advance_order,
    )


def shipment_cancellation_decided(envelope: dict) -> Outcome:
    return consume(
        envelope,
        app_label="sales",
        task_name="sales.shipment_cancellation_decided",
        contract=ShipmentCancellationDecided,
        apply=_decide_cancellation,
    )


def _advance_order(message: ShipmentStatusChanged, envelope: Envelope) -> None:
    order_status_advance(
        order_id=message.order_id,
        status=ORDER_STATUS_FOR[message.status],
        occurred_at=message.occurred,
        source="delivery",
        reason=f"{envelope.type} {envelope.id}",
    )


def _decide_cancellation(message: ShipmentCancellationDecided, envelope: Envelope) -> None:
    order_cancellation_decide(
        order_id=message.order_id,
        accepted=message.decision == ACCEPTED,
        decided_at=message.decided,
        source="delivery",
        reason=f"{envelope.type} {envelope.id}",
    )

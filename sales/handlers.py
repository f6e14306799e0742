"""How sales applies the messages it receives."""

from delivery.contracts import ShipmentStatusChanged
from messaging.consumer import Outcome, consume
from messaging.envelope import Envelope
from sales.services import order_status_advance


def shipment_status_changed(envelope: dict) -> Outcome:
    return consume(
        envelope,
        app_label="sales",
        task_name="sales.shipment_status_changed",
        contract=ShipmentStatusChanged,
        apply=_advance_order,
    )


def _advance_order(message: ShipmentStatusChanged, envelope: Envelope) -> None:
    order_status_advance(
        order_id=message.order_id,
        status=message.status,
        occurred_at=message.occurred,
        source="delivery",
        reason=f"{envelope.type} {envelope.id}",
    )

"""How delivery applies the messages it receives: each handler turns the other department's
contract into delivery's own arguments."""

from dataclasses import asdict
from datetime import datetime

from delivery.services import ShipmentItem, shipment_cancel, shipment_create
from messaging.consumer import Outcome, consume
from messaging.envelope import Envelope
from sales.contracts import OrderCancellationRequested, OrderCreated


def order_created(envelope: dict) -> Outcome:
    return consume(
        envelope,
        app_label="delivery",
        task_name="delivery.order_created",
        contract=OrderCreated,
        apply=_create_shipment,
    )


def _create_shipment(message: OrderCreated, envelope: Envelope) -> None:
    shipment_create(
        order_id=message.order_id,
        items=[ShipmentItem(sku=item.sku, name=item.name, quantity=item.quantity) for item in message.items],
        shipping_address=asdict(message.shipping_address),
        order_created_at=datetime.fromisoformat(message.created_at),
    )


def order_cancellation_requested(envelope: dict) -> Outcome:
    return consume(
        envelope,
        app_label="delivery",
        task_name="delivery.order_cancellation_requested",
        contract=OrderCancellationRequested,
        apply=_cancel_shipment,
    )


def _cancel_shipment(message: OrderCancellationRequested, envelope: Envelope) -> None:
    shipment_cancel(order_id=message.order_id)

"""How delivery applies the messages it receives."""

from delivery.services import shipment_create_from_order
from messaging.consumer import Outcome, consume
from messaging.envelope import Envelope
from sales.contracts import OrderCreated


def order_created(envelope: dict) -> Outcome:
    return consume(
        envelope,
        app_label="delivery",
        task_name="delivery.order_created",
        contract=OrderCreated,
        apply=_create_shipment,
    )


def _create_shipment(message: OrderCreated, envelope: Envelope) -> None:
    shipment_create_from_order(order=message)

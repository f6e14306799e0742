"""Delivery business logic. Every write of the delivery department goes through a function here."""

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from delivery.contracts import ShipmentStatusChanged
from delivery.models import Shipment, ShipmentStatus, new_shipment_id
from messaging.outbox import outbox_write

logger = logging.getLogger(__name__)


class ShipmentNotShipped(Exception):
    """A shipment must be shipped before it can be delivered."""


@dataclass(frozen=True)
class ShipmentChange:
    shipment: Shipment
    changed: bool


@dataclass(frozen=True)
class ShipmentItem:
    sku: str
    name: str
    quantity: int


def shipment_create(
    *, order_id: str, items: Sequence[ShipmentItem], shipping_address: Mapping[str, str], order_created_at: datetime
) -> bool:
    """Create the shipment of a new order and return True; an order that has one already keeps
    it, unchanged, and the answer is False.

    One statement, decided by the unique order id: of two calls for one order at once, the
    second waits for the first's transaction and then finds its row. Only that conflict is
    ignored; any other (a shipment id drawn twice) fails loudly instead of losing the shipment.
    """
    # SQL of our own: get_or_create takes a SELECT and a savepoint, and bulk_create with
    # ignore_conflicts neither names the conflict nor says whether the row went in.
    shipment_id, now = new_shipment_id(), timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(Shipment._meta.db_table)}"
            " (id, order_id, status, items, shipping_address, order_created_at, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (order_id) DO NOTHING",
            [
                shipment_id,
                order_id,
                ShipmentStatus.PENDING.value,
                json.dumps([asdict(item) for item in items]),
                json.dumps(dict(shipping_address)),
                order_created_at,
                now,
                now,
            ],
        )
        created = cursor.rowcount == 1
    if created:
        logger.info("shipment created", extra={"shipment_id": shipment_id, "order_id": order_id})
    return created


def shipment_mark_shipped(*, shipment_id: str, tracking_number: str | None = None) -> ShipmentChange:
    """Mark a pending shipment shipped and tell sales. Repeating it changes nothing.

    Raises Shipment.DoesNotExist for an unknown id.
    """
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(pk=shipment_id)
        if shipment.status != ShipmentStatus.PENDING:
            return ShipmentChange(shipment=shipment, changed=False)
        shipment.status = ShipmentStatus.SHIPPED
        shipment.shipped_at = timezone.now()
        shipment.tracking_number = tracking_number or shipment.tracking_number
        shipment.save(update_fields=["status", "shipped_at", "tracking_number", "updated_at"])
        _tell_sales(shipment, occurred_at=shipment.shipped_at)
    logger.info("shipment shipped", extra={"shipment_id": shipment.id, "order_id": shipment.order_id})
    return ShipmentChange(shipment=shipment, changed=True)


def shipment_mark_delivered(*, shipment_id: str) -> ShipmentChange:
    """Mark a shipped shipment delivered and tell sales. Repeating it changes nothing.

    Raises ShipmentNotShipped for a shipment still pending, Shipment.DoesNotExist for an
    unknown id.
    """
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(pk=shipment_id)
        if shipment.status == ShipmentStatus.DELIVERED:
            return ShipmentChange(shipment=shipment, changed=False)
        if shipment.status == ShipmentStatus.PENDING:
            raise ShipmentNotShipped()
        shipment.status = ShipmentStatus.DELIVERED
        shipment.delivered_at = timezone.now()
        shipment.save(update_fields=["status", "delivered_at", "updated_at"])
        _tell_sales(shipment, occurred_at=shipment.delivered_at)
    logger.info("shipment delivered", extra={"shipment_id": shipment.id, "order_id": shipment.order_id})
    return ShipmentChange(shipment=shipment, changed=True)


def _tell_sales(shipment: Shipment, *, occurred_at: datetime) -> None:
    outbox_write(
        app_label="delivery",
        message=ShipmentStatusChanged(
            shipment_id=shipment.id,
            order_id=shipment.order_id,
            status=shipment.status,
            occurred_at=occurred_at.isoformat(),
            tracking_number=shipment.tracking_number,
        ),
    )

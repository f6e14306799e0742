"""Delivery business logic. Every write of the delivery department goes through a function here."""

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from delivery.contracts import ACCEPTED, REFUSED, ShipmentCancellationDecided, ShipmentStatusChanged
from delivery.models import Shipment, ShipmentStatus, new_shipment_id
from messaging.outbox import outbox_write

logger = logging.getLogger(__name__)


class ShipmentNotShipped(Exception):
    """A shipment must be shipped before it can be delivered."""


class ShipmentCancelled(Exception):
    """A cancelled shipment is never shipped or delivered."""


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
    """Create the pending shipment of a new order and return True. An order that has a shipment
    already keeps it, and the answer is False: a repeat changes nothing, and the shipment of an
    order cancelled before it arrived (``shipment_cancel``) gets its items and address but stays
    cancelled.

    One statement, decided by the unique order id: of two calls for one order at once (or a call
    and a cancellation), the second waits for the first's transaction and then finds its row.
    Only that conflict is handled; any other (a shipment id drawn twice) fails loudly instead of
    losing the shipment.
    """
    # SQL of our own: get_or_create takes a SELECT and a savepoint, and bulk_create with
    # ignore_conflicts neither names the conflict nor says whether the row went in.
    shipment_id, now = new_shipment_id(), timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(Shipment._meta.db_table)} AS shipment"
            " (id, order_id, status, items, shipping_address, order_created_at, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (order_id) DO UPDATE SET items = EXCLUDED.items,"
            " shipping_address = EXCLUDED.shipping_address, order_created_at = EXCLUDED.order_created_at,"
            " updated_at = EXCLUDED.updated_at"
            " WHERE shipment.order_created_at IS NULL"  # only a shipment cancelled before its order came
            " RETURNING status",
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
        row = cursor.fetchone()
    created = row is not None and row[0] == ShipmentStatus.PENDING
    if created:
        logger.info("shipment created", extra={"shipment_id": shipment_id, "order_id": order_id})
    elif row is not None:
        logger.info("cancelled order arrived", extra={"order_id": order_id})
    return created


@dataclass(frozen=True)
class CancellationDecision:
    shipment: Shipment
    accepted: bool  # the shipment is cancelled (by this request or an earlier one); else it had left
    changed: bool  # this request cancelled it


def shipment_cancel(*, order_id: str) -> CancellationDecision:
    """Cancel the order's shipment unless it has left, and tell sales the decision: accepted
    for a pending shipment (which becomes cancelled) or one cancelled already, refused for one
    shipped or delivered. Every request gets an answer, repeats included; the answer for an
    order never changes, since a cancelled shipment is never shipped.

    The order may not have arrived yet (its order.created message lost and sent again later):
    its shipment is then made now, cancelled, so that the order, when it comes, never becomes
    a pending shipment. Decided under the shipment's row lock, so a clerk shipping it at the
    same moment either ships it first (refused) or finds it cancelled. Runs in the caller's
    transaction when there is one (a consumer's), without a savepoint.
    """
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {connection.ops.quote_name(Shipment._meta.db_table)}"
                " (id, order_id, status, items, created_at, updated_at, cancelled_at)"
                " VALUES (%s, %s, %s, '[]', %s, %s, %s) ON CONFLICT (order_id) DO NOTHING",
                [new_shipment_id(), order_id, ShipmentStatus.CANCELLED.value, now, now, now],
            )
            made = cursor.rowcount == 1
        shipment = Shipment.objects.select_for_update().get(order_id=order_id)
        changed = made or shipment.status == ShipmentStatus.PENDING
        if shipment.status == ShipmentStatus.PENDING:
            shipment.status, shipment.cancelled_at = ShipmentStatus.CANCELLED, now
            shipment.save(update_fields=["status", "cancelled_at", "updated_at"])
        accepted = shipment.status == ShipmentStatus.CANCELLED
        decided_at = shipment.cancelled_at if accepted and shipment.cancelled_at else now
        outbox_write(
            app_label="delivery",
            message=ShipmentCancellationDecided(
                shipment_id=shipment.id,
                order_id=order_id,
                decision=ACCEPTED if accepted else REFUSED,
                decided_at=decided_at.isoformat(),
            ),
        )
    logger.info(
        "shipment cancellation decided",
        extra={"shipment_id": shipment.id, "order_id": order_id, "decision": ACCEPTED if accepted else REFUSED},
    )
    return CancellationDecision(shipment=shipment, accepted=accepted, changed=changed)


def shipment_mark_shipped(*, shipment_id: str, tracking_number: str | None = None) -> ShipmentChange:
    """Mark a pending shipment shipped and tell sales. Repeating it changes nothing.

    Raises ShipmentCancelled for a cancelled shipment, Shipment.DoesNotExist for an unknown id.
    """
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(pk=shipment_id)
        if shipment.status == ShipmentStatus.CANCELLED:
            raise ShipmentCancelled()
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

    Raises ShipmentNotShipped for a shipment still pending, ShipmentCancelled for a cancelled
    one, Shipment.DoesNotExist for an unknown id.
    """
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(pk=shipment_id)
        if shipment.status == ShipmentStatus.CANCELLED:
            raise ShipmentCancelled()
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

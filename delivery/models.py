from django.db import models

from core.ids import new_public_id
from messaging.models import AbstractDeadLetter, AbstractInboxMessage, AbstractOutboxMessage


def new_shipment_id() -> str:
    return new_public_id("SHP")


# A carrier's tracking number: 1 to 64 printable characters, no spaces.
TRACKING_NUMBER = r"^[\x21-\x7e]{1,64}$"
TRACKING_NUMBER_HELP = "Use 1 to 64 printable characters without spaces."


class ShipmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"


class Shipment(models.Model):
    """One order's shipment. It holds the order's id, not a foreign key: sales' tables are not
    delivery's, and the items and address are a snapshot taken from the order.created message.

    A cancellation that arrives before its order makes the order's shipment at once, cancelled,
    without items, address or ``order_created_at``; the order.created message fills them in when
    it comes, and the shipment stays cancelled (``delivery.services``)."""

    id = models.CharField(primary_key=True, max_length=20, default=new_shipment_id, editable=False)
    order_id = models.CharField(max_length=20, unique=True)
    status = models.CharField(max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.PENDING)
    items = models.JSONField(help_text='[{"sku", "name", "quantity"}, …]')
    shipping_address = models.JSONField(null=True, blank=True, help_text="None until the order has arrived.")
    tracking_number = models.CharField(max_length=64, null=True, blank=True)
    order_created_at = models.DateTimeField(
        null=True, blank=True, help_text="When the customer placed the order; None until the order has arrived."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "created_at"], name="shipment_status_created")]

    def __str__(self) -> str:
        return f"{self.id} ({self.order_id})"

    @property
    def item_count(self) -> int:
        return sum(item["quantity"] for item in self.items)

    @property
    def item_summary(self) -> str:
        return ", ".join(f"{item['quantity']}× {item['name']}" for item in self.items)


class OutboxMessage(AbstractOutboxMessage):
    """Messages delivery sends (shipment.status_changed), until their consumer acknowledges them."""


class InboxMessage(AbstractInboxMessage):
    """Messages delivery has applied (order.created), for de-duplication."""


class DeadLetter(AbstractDeadLetter):
    """Messages delivery refused or could not apply."""

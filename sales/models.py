from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from core.ids import new_public_id
from messaging.models import AbstractDeadLetter, AbstractInboxMessage, AbstractOutboxMessage


def new_order_id() -> str:
    return new_public_id("ORD")


class Product(models.Model):
    sku = models.CharField(
        max_length=64,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", "Use letters, digits, '.', '_' or '-'.")],
    )
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    stock_quantity = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            # The last line of defence against overselling: the database itself refuses it.
            models.CheckConstraint(condition=models.Q(stock_quantity__gte=0), name="product_stock_not_negative"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} - {self.name}"

    @property
    def available(self) -> bool:
        return self.is_active and self.stock_quantity > 0


class OrderStatus(models.TextChoices):
    PENDING_SHIPMENT = "pending_shipment", "Pending Shipment"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"


class Order(models.Model):
    id = models.CharField(primary_key=True, max_length=20, default=new_order_id, editable=False)
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING_SHIPMENT)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    shipping_name = models.CharField(max_length=200)
    shipping_line1 = models.CharField(max_length=200)
    shipping_line2 = models.CharField(max_length=200, blank=True)
    shipping_city = models.CharField(max_length=100)
    shipping_postal_code = models.CharField(max_length=20)
    shipping_country = models.CharField(max_length=2)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="order_customer_newest")]
        permissions = [("cancel_order", "Can cancel orders")]

    def __str__(self) -> str:
        return self.id

    @property
    def shipping_address(self) -> dict[str, str]:
        return {
            "name": self.shipping_name,
            "line1": self.shipping_line1,
            "line2": self.shipping_line2,
            "city": self.shipping_city,
            "postal_code": self.shipping_postal_code,
            "country": self.shipping_country,
        }


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    # Snapshots: what the customer bought, whatever later happens to the product.
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    line_total = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["order", "sku"], name="order_line_sku_unique")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class CancellationState(models.TextChoices):
    REQUESTED = "requested", "Requested"
    ACCEPTED = "accepted", "Accepted"
    REFUSED = "refused", "Refused"


class Cancellation(models.Model):
    """A request to cancel an order, and delivery's decision on it. An order has at most one:
    asking again while it is open changes nothing, and once refused the parcel has left."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, primary_key=True, related_name="cancellation")
    state = models.CharField(max_length=20, choices=CancellationState.choices, default=CancellationState.REQUESTED)
    reason = models.CharField(max_length=200, blank=True)
    # None: delivery cancelled the shipment without sales asking (its decision is applied anyway).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source = models.CharField(
        max_length=50, help_text="Where it was asked for: api or admin (delivery: cancelled without sales asking)."
    )
    requested_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True, help_text="When delivery decided.")

    def __str__(self) -> str:
        return f"{self.order_id}: cancellation {self.state}"


class OrderStatusChange(models.Model):
    """One step of an order's life; the first row of every order has no ``from_status``. A step
    that leaves the status as it was (a cancellation asked for, or refused) has ``from_status``
    equal to ``to_status``."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices)
    source = models.CharField(max_length=50, help_text="Who or what made the change, e.g. api or delivery.")
    reason = models.CharField(max_length=200, blank=True, help_text="Why, e.g. the id of the message applied.")
    occurred_at = models.DateTimeField(help_text="When it happened where it happened.")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["recorded_at", "id"]
        get_latest_by = "recorded_at"

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '∅'} → {self.to_status}"


class IdempotencyKey(models.Model):
    """The first answer to a request made with an ``Idempotency-Key`` header, per user: the
    order it placed (``order_id``, 201) or the lines it was refused for (``response_body``, 409).
    Written by ``sales.services.order_place_idempotently`` alone."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=20, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    order_id = models.CharField(max_length=20, blank=True)
    locked_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class OutboxMessage(AbstractOutboxMessage):
    """Messages sales sends (order.created), until their consumer acknowledges them."""


class InboxMessage(AbstractInboxMessage):
    """Messages sales has applied (shipment.status_changed), for de-duplication."""


class DeadLetter(AbstractDeadLetter):
    """Messages sales refused or could not apply."""

"""A factory for every model of the project's apps (and for the users and the clerks' group).

A factory of our models may be given a time for a field Django stamps itself (``created_at``,
``received_at``, ...): the row is then dated so, as rows made earlier would be.
"""

import uuid
from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from delivery.contracts import ShipmentStatusChanged
from delivery.models import DeadLetter as DeliveryDeadLetter
from delivery.models import InboxMessage as DeliveryInboxMessage
from delivery.models import OutboxMessage as DeliveryOutboxMessage
from delivery.models import Shipment
from delivery.permissions import CLERK_PERMISSIONS, CLERKS_GROUP
from messaging.envelope import Contract, Envelope
from sales.contracts import OrderCreated, OrderCreatedAddress, OrderCreatedItem
from sales.models import (
    Cancellation,
    CancellationState,
    IdempotencyKey,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    Product,
)
from sales.models import DeadLetter as SalesDeadLetter
from sales.models import InboxMessage as SalesInboxMessage
from sales.models import OutboxMessage as SalesOutboxMessage

PASSWORD = "correct-horse-battery-staple"
# A valid shipping_address for API requests.
ADDRESS = {"name": "Ada", "line1": "Main St 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}


class ModelFactory(factory.django.DjangoModelFactory):
    """Django sets auto_now and auto_now_add fields itself when it saves a row, whatever it is
    given; a time named for one of them is written once the row is in."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        stamped = {
            field.name
            for field in model_class._meta.concrete_fields
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        }
        dated = {name: kwargs.pop(name) for name in stamped & kwargs.keys()}
        row = super()._create(model_class, *args, **kwargs)
        if dated:
            model_class._default_manager.filter(pk=row.pk).update(**dated)
            for name, value in dated.items():
                setattr(row, name, value)
        return row


# --- users ----------------------------------------------------------------------------------


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(PASSWORD)


class CustomerFactory(UserFactory):
    username = factory.Sequence(lambda n: f"customer{n}")


class StaffFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    is_superuser = True


class ClerksGroupFactory(factory.django.DjangoModelFactory):
    """The clerks' group, as delivery/migrations/0002 makes it with its permissions. A
    transactional test's flush empties the table the migration filled: then it is made again."""

    class Meta:
        model = Group
        django_get_or_create = ("name",)
        skip_postgeneration_save = True

    name = CLERKS_GROUP

    @factory.post_generation
    def permissions(self, create, extracted, **kwargs):
        if create and not self.permissions.exists():
            self.permissions.add(
                *Permission.objects.filter(content_type__app_label="delivery", codename__in=CLERK_PERMISSIONS)
            )


class ClerkFactory(UserFactory):
    username = factory.Sequence(lambda n: f"clerk{n}")

    @factory.post_generation
    def clerk_group(self, create, extracted, **kwargs):
        if create:
            self.groups.add(ClerksGroupFactory())


# --- sales ----------------------------------------------------------------------------------


class ProductFactory(ModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n}")
    name = factory.Sequence(lambda n: f"Product {n}")
    price = Decimal("10.00")
    stock_quantity = 100
    is_active = True


class OrderFactory(ModelFactory):
    class Meta:
        model = Order

    customer = factory.SubFactory(CustomerFactory)
    status = OrderStatus.PENDING_SHIPMENT
    total = Decimal("0.00")
    shipping_name = "Ada Lovelace"
    shipping_line1 = "Hauptstraße 1"
    shipping_city = "Berlin"
    shipping_postal_code = "10115"
    shipping_country = "DE"


class OrderLineFactory(ModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    sku = factory.SelfAttribute("product.sku")
    name = factory.SelfAttribute("product.name")
    quantity = 1
    unit_price = factory.SelfAttribute("product.price")
    line_total = factory.LazyAttribute(lambda line: line.unit_price * line.quantity)


class OrderStatusChangeFactory(ModelFactory):
    class Meta:
        model = OrderStatusChange

    order = factory.SubFactory(OrderFactory)
    from_status = ""
    to_status = OrderStatus.PENDING_SHIPMENT
    source = "api"
    occurred_at = factory.LazyFunction(timezone.now)


class CancellationFactory(ModelFactory):
    """A request to cancel a pending order, which delivery has not answered yet; pass ``state``
    and ``decided_at`` (and the order's status) for one it has."""

    class Meta:
        model = Cancellation

    order = factory.SubFactory(OrderFactory)
    state = CancellationState.REQUESTED
    requested_by = factory.SelfAttribute("order.customer")
    source = "api"
    requested_at = factory.LazyFunction(timezone.now)


class IdempotencyKeyFactory(ModelFactory):
    class Meta:
        model = IdempotencyKey

    user = factory.SubFactory(CustomerFactory)
    key = factory.Sequence(lambda n: f"key-{n}")
    request_fingerprint = "0" * 64
    locked_at = factory.LazyFunction(timezone.now)


# --- delivery -------------------------------------------------------------------------------


class ShipmentFactory(ModelFactory):
    class Meta:
        model = Shipment

    order_id = factory.Sequence(lambda n: f"ORD-{n:016d}")
    items = factory.LazyFunction(lambda: [{"sku": "MUG-1", "name": "Enamel mug", "quantity": 2}])
    shipping_address = factory.LazyFunction(
        lambda: {
            "name": "Ada Lovelace",
            "line1": "Hauptstraße 1",
            "line2": "",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        }
    )
    order_created_at = factory.LazyFunction(timezone.now)


# --- each department's outbox, inbox and dead letters ---------------------------------------

# What each department sends by default: an order sales placed, and delivery shipping it (their
# form on the wire is in tests/messaging/test_envelope.py).
ORDER_CREATED = OrderCreated(
    order_id="ORD-0000000000000001",
    items=(OrderCreatedItem(sku="MUG-1", name="Mug", quantity=2), OrderCreatedItem(sku="TEE", name="Tee", quantity=1)),
    shipping_address=OrderCreatedAddress(
        name="Ada", line1="Main St 1", line2="", city="Berlin", postal_code="10115", country="DE"
    ),
    created_at="2026-11-28T10:00:00+00:00",
)
SHIPMENT_SHIPPED = ShipmentStatusChanged(
    shipment_id="SHP-0000000000000001",
    order_id="ORD-0000000000000001",
    status="shipped",
    occurred_at="2026-11-28T12:00:00+00:00",
    tracking_number="1Z999",
)


def signed_envelope(*, id, type: str, message: Contract, source: str, correlation_id: str = "c-1") -> dict:
    """``message`` as it travels: in an envelope with the id ``id``, signed as the transport signs it."""
    return Envelope(
        id=str(id),
        type=type,
        version=message.VERSION,
        source=source,
        payload=message.to_dict(),
        correlation_id=correlation_id,
    ).signed()


class _OutboxMessageFactory(ModelFactory):
    """A message in a department's outbox, not sent yet and due: the relay's next pass sends it.
    Each department's factory names in its Params the message it sends and its own label."""

    class Meta:
        abstract = True

    id = factory.LazyFunction(uuid.uuid4)
    type = factory.LazyAttribute(lambda row: row.message.TYPE)
    correlation_id = "c-1"
    envelope = factory.LazyAttribute(
        lambda row: signed_envelope(
            id=row.id, type=row.type, message=row.message, source=row.source, correlation_id=row.correlation_id
        )
    )
    next_attempt_at = factory.LazyFunction(lambda: timezone.now() - timedelta(seconds=1))


class SalesOutboxMessageFactory(_OutboxMessageFactory):
    class Meta:
        model = SalesOutboxMessage

    class Params:
        message = ORDER_CREATED
        source = "sales"


class DeliveryOutboxMessageFactory(_OutboxMessageFactory):
    class Meta:
        model = DeliveryOutboxMessage

    class Params:
        message = SHIPMENT_SHIPPED
        source = "delivery"


class SalesInboxMessageFactory(ModelFactory):
    """A message sales has applied."""

    class Meta:
        model = SalesInboxMessage

    message_id = factory.LazyFunction(uuid.uuid4)
    type = ShipmentStatusChanged.TYPE


class DeliveryInboxMessageFactory(ModelFactory):
    """A message delivery has applied."""

    class Meta:
        model = DeliveryInboxMessage

    message_id = factory.LazyFunction(uuid.uuid4)
    type = OrderCreated.TYPE


class _DeadLetterFactory(ModelFactory):
    """A well-signed message a department failed to apply, kept as it arrived: a re-drive applies
    it if what it needs is there by then. Each department's factory names in its Params the
    message it receives and the label of the department that sent it."""

    class Meta:
        abstract = True

    message_id = factory.LazyFunction(uuid.uuid4)
    type = factory.LazyAttribute(lambda letter: letter.message.TYPE)
    envelope = factory.LazyAttribute(
        lambda letter: signed_envelope(
            id=letter.message_id, type=letter.type, message=letter.message, source=letter.source
        )
    )
    reason = "failed"


class SalesDeadLetterFactory(_DeadLetterFactory):
    class Meta:
        model = SalesDeadLetter

    class Params:
        message = SHIPMENT_SHIPPED
        source = "delivery"

    task_name = "sales.shipment_status_changed"


class DeliveryDeadLetterFactory(_DeadLetterFactory):
    class Meta:
        model = DeliveryDeadLetter

    class Params:
        message = ORDER_CREATED
        source = "sales"

    task_name = "delivery.order_created"

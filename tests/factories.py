import uuid
from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from delivery.models import Shipment
from delivery.permissions import CLERK_PERMISSIONS, CLERKS_GROUP
from messaging.envelope import Envelope
from sales.models import IdempotencyKey, Order, OrderLine, OrderStatus, OrderStatusChange, Product
from sales.models import OutboxMessage as SalesOutboxMessage

PASSWORD = "correct-horse-battery-staple"
# A valid shipping_address for API requests.
ADDRESS = {"name": "Ada", "line1": "Main St 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}


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


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n}")
    name = factory.Sequence(lambda n: f"Product {n}")
    price = Decimal("10.00")
    stock_quantity = 100
    is_active = True


class OrderFactory(factory.django.DjangoModelFactory):
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


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    sku = factory.SelfAttribute("product.sku")
    name = factory.SelfAttribute("product.name")
    quantity = 1
    unit_price = factory.SelfAttribute("product.price")
    line_total = factory.LazyAttribute(lambda line: line.unit_price * line.quantity)


class OrderStatusChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderStatusChange

    order = factory.SubFactory(OrderFactory)
    from_status = ""
    to_status = OrderStatus.PENDING_SHIPMENT
    source = "api"
    occurred_at = factory.LazyFunction(timezone.now)


class IdempotencyKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IdempotencyKey

    user = factory.SubFactory(CustomerFactory)
    key = factory.Sequence(lambda n: f"key-{n}")
    request_fingerprint = "0" * 64
    locked_at = factory.LazyFunction(timezone.now)


class ShipmentFactory(factory.django.DjangoModelFactory):
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


def _signed_order_created(row) -> dict:
    payload = {
        "order_id": "ORD-0000000000000001",
        "items": [{"sku": "MUG-1", "name": "Mug", "quantity": 1}],
        "shipping_address": {
            "name": "Ada",
            "line1": "Main St 1",
            "line2": "",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        "created_at": "2026-11-28T10:00:00+00:00",
    }
    return Envelope(
        id=str(row.id), type="order.created", version=1, source="sales", payload=payload, correlation_id="c-1"
    ).signed()


class SalesOutboxMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SalesOutboxMessage

    id = factory.LazyFunction(uuid.uuid4)
    type = "order.created"
    correlation_id = "c-1"
    envelope = factory.LazyAttribute(_signed_order_created)
    next_attempt_at = factory.LazyFunction(lambda: timezone.now() - timedelta(seconds=1))


class ClerkFactory(UserFactory):
    username = factory.Sequence(lambda n: f"clerk{n}")

    @factory.post_generation
    def clerk_group(self, create, extracted, **kwargs):
        if create:
            # The migration made the group with its permissions, but a transactional test's flush
            # empties the table: then it is made again here, as the migration makes it.
            group, made = Group.objects.get_or_create(name=CLERKS_GROUP)
            if made:
                group.permissions.add(
                    *Permission.objects.filter(content_type__app_label="delivery", codename__in=CLERK_PERMISSIONS)
                )
            self.groups.add(group)

"""What order_place writes, both ways it can write it: on PostgreSQL its own two statements, on
the other databases (a local run's SQLite file) the ORM's, which PostgreSQL runs here too."""

from decimal import Decimal

import pytest
from django.db import connection

from sales.models import Order, OrderLine, OrderStatusChange, OutboxMessage, Product
from sales.services import LineRequest, ProductsUnavailable, ShippingAddress, UnavailableLine, order_place
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

ADDRESS = ShippingAddress(
    name="Ada", line1="Main St 1", line2="2. OG", city="Berlin", postal_code="10115", country="DE"
)


@pytest.fixture(autouse=True, params=["postgresql", "sqlite"])
def vendor(request, monkeypatch):
    # order_place chooses its statements by the database's vendor.
    monkeypatch.setattr(connection, "vendor", request.param)


def place(customer, *lines):
    return order_place(
        customer=customer,
        lines=[LineRequest(sku=sku, quantity=quantity) for sku, quantity in lines],
        shipping_address=ADDRESS,
    )


def row(instance):
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_the_order_returned_is_the_order_stored(customer, mug, tee):
    order = place(customer, ("TEE-M", 1), ("MUG-1", 2))

    assert row(order) == Order.objects.values().get()
    # The lines in the order asked (not the skus' or the products'), read back in that order.
    assert [row(line) for line in order.lines.all()] == list(OrderLine.objects.order_by("id").values())
    assert [(line.sku, line.quantity, line.unit_price, line.line_total) for line in order.lines.all()] == [
        ("TEE-M", 1, Decimal("19.99"), Decimal("19.99")),
        ("MUG-1", 2, Decimal("12.50"), Decimal("25.00")),
    ]
    assert (order.customer, order.status, order.total) == (customer, "pending_shipment", Decimal("44.99"))


def test_the_stock_history_and_message_of_an_order_are_written_with_it(customer, mug, tee):
    order = place(customer, ("TEE-M", 1), ("MUG-1", 2))

    assert dict(Product.objects.values_list("sku", "stock_quantity")) == {"MUG-1": 8, "TEE-M": 4}
    assert list(
        OrderStatusChange.objects.values_list("order_id", "from_status", "to_status", "source", "reason", "occurred_at")
    ) == [(order.id, "", "pending_shipment", "api", "order placed", order.created_at)]
    assert OutboxMessage.objects.get().envelope["payload"]["order_id"] == order.id


def test_the_order_returned_is_a_stored_row_that_saves_as_an_update(customer, mug):
    order = place(customer, ("MUG-1", 1))

    order.shipping_city = "Potsdam"
    order.save()

    assert list(Order.objects.values_list("id", "shipping_city")) == [(order.id, "Potsdam")]


@pytest.mark.parametrize(
    ("refused", "available"),
    [(("TEE-M", 6), 5), (("OLD-1", 1), 0)],
    ids=["not enough stock", "inactive with stock"],
)
def test_a_line_that_cannot_be_taken_takes_nothing_and_stores_nothing(customer, mug, tee, refused, available):
    ProductFactory(sku="OLD-1", stock_quantity=50, is_active=False)

    with pytest.raises(ProductsUnavailable) as raised:
        place(customer, ("MUG-1", 2), refused)

    sku, requested = refused
    assert raised.value.lines == [UnavailableLine(sku=sku, requested=requested, available=available)]
    assert dict(Product.objects.values_list("sku", "stock_quantity")) == {"MUG-1": 10, "OLD-1": 50, "TEE-M": 5}
    assert [model.objects.count() for model in (Order, OrderLine, OrderStatusChange, OutboxMessage)] == [0, 0, 0, 0]

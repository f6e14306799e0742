"""Price x quantity and the order total must fit their columns (12 digits, 2 of them decimals):
beyond, the order is a 400 with a field error, and nothing is stored or taken."""

from decimal import Decimal

import pytest

from sales.models import IdempotencyKey, Order, Product
from tests.factories import ADDRESS, ProductFactory

pytestmark = pytest.mark.django_db

LINE_TOO_LARGE = "Price × quantity is more than the 9999999999.99 an order line can hold."


def order_body(*items):
    return {"items": [{"sku": sku, "quantity": quantity} for sku, quantity in items], "shipping_address": ADDRESS}


@pytest.fixture
def dear():
    # The dearest price the price column takes, with stock for the largest quantity asked.
    return ProductFactory(sku="DEAR", price=Decimal("99999999.99"), stock_quantity=1000)


def test_a_line_total_beyond_the_column_is_a_field_error(customer_client, mug, dear):
    response = customer_client.post("/api/orders/", order_body(("MUG-1", 1), ("DEAR", 1000)))

    assert (response.status_code, response.json()) == (
        400,
        {"detail": "Invalid input.", "items": {"1": {"quantity": [LINE_TOO_LARGE]}}},
    )
    assert (Order.objects.count(), Product.objects.get(sku="DEAR").stock_quantity) == (0, 1000)
    assert Product.objects.get(sku="MUG-1").stock_quantity == 10


def test_a_total_beyond_the_column_is_an_error_on_the_items(customer_client, dear):
    ProductFactory(sku="DEAR-2", price=Decimal("99999999.99"), stock_quantity=1000)

    response = customer_client.post("/api/orders/", order_body(("DEAR", 60), ("DEAR-2", 60)))

    assert (response.status_code, response.json()) == (
        400,
        {
            "detail": "Invalid input.",
            "items": ["The order total would be 11999999998.80, more than the 9999999999.99 an order can hold."],
        },
    )
    assert list(Product.objects.values_list("stock_quantity", flat=True)) == [1000, 1000]
    assert Order.objects.count() == 0


def test_the_largest_amounts_that_fit_are_placed(customer_client):
    ProductFactory(sku="MAX", price=Decimal("9999999.99"), stock_quantity=1000)

    response = customer_client.post("/api/orders/", order_body(("MAX", 1000)))

    assert (response.status_code, response.json()["total"]) == (201, "9999999990.00")


def test_a_refused_amount_frees_its_idempotency_key(customer_client, dear):
    refused = customer_client.post("/api/orders/", order_body(("DEAR", 1000)), HTTP_IDEMPOTENCY_KEY="k-1")
    after = customer_client.post("/api/orders/", order_body(("DEAR", 1)), HTTP_IDEMPOTENCY_KEY="k-1")

    assert (refused.status_code, after.status_code) == (400, 201)
    assert IdempotencyKey.objects.get().order_id == Order.objects.get().id

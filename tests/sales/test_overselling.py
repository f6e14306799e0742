"""Many customers buying the last units at the same moment, against real PostgreSQL."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from sales.models import Order, OrderLine, Product
from tests.clients import bearer_client
from tests.factories import ADDRESS, CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


def place_all_at_once(bodies):
    """Post every body from its own thread and connection, all released together."""
    clients = [bearer_client(CustomerFactory()) for _ in bodies]
    barrier = threading.Barrier(len(bodies))

    def place(client, body):
        try:
            barrier.wait(timeout=30)
            return client.post("/api/orders/", body).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return Counter(pool.map(place, clients, bodies))


def test_the_last_units_are_sold_exactly_once():
    ProductFactory(sku="LAST", stock_quantity=5)
    body = {"items": [{"sku": "LAST", "quantity": 1}], "shipping_address": ADDRESS}

    codes = place_all_at_once([body] * 24)

    assert codes == {201: 5, 409: 19}
    assert Product.objects.get().stock_quantity == 0
    assert Order.objects.count() == 5


def test_orders_naming_the_same_products_in_any_order_neither_deadlock_nor_oversell():
    ProductFactory(sku="A", stock_quantity=8)
    ProductFactory(sku="B", stock_quantity=8)
    a_then_b = {"items": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1}], "shipping_address": ADDRESS}
    b_then_a = {"items": [{"sku": "B", "quantity": 1}, {"sku": "A", "quantity": 1}], "shipping_address": ADDRESS}

    codes = place_all_at_once([a_then_b, b_then_a] * 12)

    assert codes == {201: 8, 409: 16}
    assert dict(Product.objects.values_list("sku", "stock_quantity")) == {"A": 0, "B": 0}
    assert OrderLine.objects.count() == 16


def test_units_sold_never_exceed_stock_with_mixed_quantities():
    ProductFactory(sku="MIX", stock_quantity=10)
    bodies = [{"items": [{"sku": "MIX", "quantity": quantity}], "shipping_address": ADDRESS} for quantity in [3] * 12]

    codes = place_all_at_once(bodies)

    sold = sum(OrderLine.objects.values_list("quantity", flat=True))
    assert codes == {201: 3, 409: 9}
    assert (sold, Product.objects.get().stock_quantity) == (9, 1)

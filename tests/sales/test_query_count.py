"""The order path runs a fixed number of queries, however many lines an order has."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ADDRESS, OrderFactory, OrderLineFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("lines", [1, 10, 100])
def test_placing_an_order_takes_the_same_queries_for_any_number_of_lines(customer_client, lines):
    skus = [ProductFactory(stock_quantity=5).sku for _ in range(lines)]
    body = {"items": [{"sku": sku, "quantity": 1} for sku in skus], "shipping_address": ADDRESS}

    with CaptureQueriesContext(connection) as queries:
        response = customer_client.post("/api/orders/", body)

    assert response.status_code == 201
    # user (JWT), savepoint, lock products, take stock and write order + lines + history, outbox, release
    assert len(queries) == 6, "\n".join(query["sql"][:120] for query in queries)


def test_asking_to_cancel_an_order_takes_a_fixed_number_of_queries(customer_client, customer):
    order = OrderFactory(customer=customer)
    OrderLineFactory.create_batch(3, order=order)

    with CaptureQueriesContext(connection) as queries:
        response = customer_client.post(f"/api/orders/{order.id}/cancel/")

    assert response.status_code == 202
    # user (JWT), may the caller see it, savepoint, lock the order, its cancellation, record the
    # request, its history step, outbox, release, the order's lines for the answer
    assert len(queries) == 10, "\n".join(query["sql"][:120] for query in queries)

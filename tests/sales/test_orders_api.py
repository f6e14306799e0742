import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sales.models import Order, OrderLine, OrderStatusChange, Product
from tests.factories import OrderFactory, OrderLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "Hauptstraße 1",
    "line2": "2. OG",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def order_body(items=None, **address):
    return {
        "items": [{"sku": "MUG-1", "quantity": 2}, {"sku": "TEE-M", "quantity": 1}] if items is None else items,
        "shipping_address": {**ADDRESS, **address},
    }


def test_place_order(customer_client, customer, mug, tee):
    response = customer_client.post("/api/orders/", order_body())

    order = Order.objects.get()
    body = response.json()
    assert response.status_code == 201
    assert response["Location"] == f"/api/orders/{order.id}/"
    assert re.fullmatch(r"ORD-[0-9A-HJKMNP-TV-Z]{16}", body["id"])
    assert body == {
        "id": order.id,
        "status": "pending_shipment",
        "status_display": "Pending Shipment",
        "items": [
            {"sku": "MUG-1", "name": "Enamel mug", "quantity": 2, "unit_price": "12.50", "line_total": "25.00"},
            {"sku": "TEE-M", "name": "T-shirt M", "quantity": 1, "unit_price": "19.99", "line_total": "19.99"},
        ],
        "total": "44.99",
        "shipping_address": ADDRESS,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "shipped_at": None,
        "delivered_at": None,
        "cancelled_at": None,
        "cancellation": None,
    }
    assert ISO_UTC.match(body["created_at"])
    assert ISO_UTC.match(body["updated_at"])
    assert order.customer == customer


def test_a_new_order_reads_back_as_it_was_answered(customer_client, mug, tee):
    # Lines in the order asked: neither the skus' nor the products' order.
    placed = customer_client.post(
        "/api/orders/", order_body([{"sku": "TEE-M", "quantity": 1}, {"sku": "MUG-1", "quantity": 2}])
    )
    read = customer_client.get(placed["Location"])

    assert (placed.status_code, read.status_code) == (201, 200)
    assert read.json() == placed.json()


def test_place_order_takes_the_stock(customer_client, mug, tee):
    customer_client.post("/api/orders/", order_body())

    assert dict(Product.objects.values_list("sku", "stock_quantity")) == {"MUG-1": 8, "TEE-M": 4}


def test_place_order_records_the_first_step_of_its_history(customer_client, mug, tee):
    customer_client.post("/api/orders/", order_body())

    change = OrderStatusChange.objects.get()
    assert (change.from_status, change.to_status, change.source) == ("", "pending_shipment", "api")


def test_order_may_take_the_last_units(customer_client, tee):
    response = customer_client.post("/api/orders/", order_body([{"sku": "TEE-M", "quantity": 5}]))

    assert response.status_code == 201
    assert Product.objects.get().stock_quantity == 0


def test_line2_is_optional(customer_client, mug):
    address = {key: value for key, value in ADDRESS.items() if key != "line2"}

    response = customer_client.post(
        "/api/orders/", {"items": [{"sku": "MUG-1", "quantity": 1}], "shipping_address": address}
    )

    assert response.status_code == 201
    assert response.json()["shipping_address"]["line2"] == ""


def test_country_is_stored_upper_case(customer_client, mug):
    response = customer_client.post("/api/orders/", order_body([{"sku": "MUG-1", "quantity": 1}], country="fr"))

    assert response.status_code == 201
    assert response.json()["shipping_address"]["country"] == "FR"


@pytest.mark.parametrize(
    ("items", "errors"),
    [
        ([], {"items": {"non_field_errors": ["This list may not be empty."]}}),
        ("MUG-1", {"items": {"non_field_errors": ['Expected a list of items but got type "str".']}}),
        (
            [{"sku": "MUG-1", "quantity": 0}],
            {"items": {"0": {"quantity": ["Ensure this value is greater than or equal to 1."]}}},
        ),
        (
            [{"sku": "MUG-1", "quantity": 1001}],
            {"items": {"0": {"quantity": ["Ensure this value is less than or equal to 1000."]}}},
        ),
        ([{"sku": "MUG-1", "quantity": 1.5}], {"items": {"0": {"quantity": ["A valid integer is required."]}}}),
        ([{"sku": "MUG-1", "quantity": "2"}], {"items": {"0": {"quantity": ["A valid integer is required."]}}}),
        ([{"sku": "MUG-1", "quantity": True}], {"items": {"0": {"quantity": ["A valid integer is required."]}}}),
        ([{"sku": "MUG-1"}], {"items": {"0": {"quantity": ["This field is required."]}}}),
        ([{"quantity": 1}], {"items": {"0": {"sku": ["This field is required."]}}}),
        (
            [{"sku": "MUG-1", "quantity": 1}, {"sku": "MUG-1", "quantity": 2}],
            {"items": ["Each sku may appear only once; repeated: MUG-1."]},
        ),
        (
            [{"sku": f"SKU-{n}", "quantity": 1} for n in range(101)],
            {"items": {"non_field_errors": ["Ensure this field has no more than 100 elements."]}},
        ),
    ],
    ids=[
        "empty",
        "not-a-list",
        "zero",
        "too-many",
        "fraction",
        "string",
        "boolean",
        "no-quantity",
        "no-sku",
        "same-sku-twice",
        "101-lines",
    ],
)
def test_items_are_validated(customer_client, mug, items, errors):
    response = customer_client.post("/api/orders/", order_body(items))

    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid input.", **errors}
    assert (Order.objects.count(), Product.objects.get().stock_quantity) == (0, 10)


def test_unknown_sku_is_a_field_error(customer_client, mug):
    response = customer_client.post(
        "/api/orders/", order_body([{"sku": "MUG-1", "quantity": 1}, {"sku": "NOPE", "quantity": 1}])
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid input.", "items": {"1": {"sku": ['Unknown product "NOPE".']}}}
    assert (Order.objects.count(), Product.objects.get().stock_quantity) == (0, 10)


def test_a_hundred_lines_are_accepted(customer_client):
    ProductFactory.create_batch(100, stock_quantity=1)
    items = [{"sku": sku, "quantity": 1} for sku in Product.objects.values_list("sku", flat=True)]

    response = customer_client.post("/api/orders/", order_body(items))

    assert response.status_code == 201
    assert OrderLine.objects.count() == 100


@pytest.mark.parametrize(
    ("address", "errors"),
    [
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        ({"line1": "x" * 201}, {"line1": ["Ensure this field has no more than 200 characters."]}),
        ({"city": "x" * 101}, {"city": ["Ensure this field has no more than 100 characters."]}),
        ({"postal_code": "x" * 21}, {"postal_code": ["Ensure this field has no more than 20 characters."]}),
        ({"country": "XX"}, {"country": ['"XX" is not an ISO 3166-1 alpha-2 country code.']}),
        ({"country": "DEU"}, {"country": ["Ensure this field has no more than 2 characters."]}),
        ({"country": None}, {"country": ["This field may not be null."]}),
    ],
    ids=["blank-name", "long-line1", "long-city", "long-postal-code", "unknown-country", "alpha-3", "null-country"],
)
def test_shipping_address_is_validated(customer_client, mug, address, errors):
    response = customer_client.post("/api/orders/", order_body([{"sku": "MUG-1", "quantity": 1}], **address))

    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid input.", "shipping_address": errors}
    assert Order.objects.count() == 0


def test_missing_address_fields_are_named(customer_client, mug):
    response = customer_client.post(
        "/api/orders/", {"items": [{"sku": "MUG-1", "quantity": 1}], "shipping_address": {"name": "Ada"}}
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "shipping_address": {
            "line1": ["This field is required."],
            "city": ["This field is required."],
            "postal_code": ["This field is required."],
            "country": ["This field is required."],
        },
    }


def test_empty_body_names_both_fields(customer_client):
    response = customer_client.post("/api/orders/", {})

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "items": ["This field is required."],
        "shipping_address": ["This field is required."],
    }


def test_malformed_json_is_400(customer_client):
    response = customer_client.generic("POST", "/api/orders/", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_not_enough_stock_is_409_and_stores_nothing(customer_client, mug, tee):
    response = customer_client.post(
        "/api/orders/", order_body([{"sku": "MUG-1", "quantity": 2}, {"sku": "TEE-M", "quantity": 6}])
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Some products are not available in the quantity asked for.",
        "unavailable": [{"sku": "TEE-M", "requested": 6, "available": 5}],
    }
    assert (Order.objects.count(), OrderStatusChange.objects.count()) == (0, 0)
    assert dict(Product.objects.values_list("sku", "stock_quantity")) == {"MUG-1": 10, "TEE-M": 5}


def test_inactive_product_is_409_with_nothing_available(customer_client, mug):
    ProductFactory(sku="OLD-1", stock_quantity=50, is_active=False)

    response = customer_client.post(
        "/api/orders/", order_body([{"sku": "OLD-1", "quantity": 1}, {"sku": "MUG-1", "quantity": 11}])
    )

    assert response.status_code == 409
    assert response.json()["unavailable"] == [
        {"sku": "OLD-1", "requested": 1, "available": 0},
        {"sku": "MUG-1", "requested": 11, "available": 10},
    ]
    assert dict(Product.objects.values_list("sku", "stock_quantity")) == {"MUG-1": 10, "OLD-1": 50}


def test_customer_lists_only_their_own_orders_newest_first(customer_client, customer):
    newer = OrderFactory(customer=customer)
    older = OrderFactory(customer=customer, created_at=datetime(2026, 1, 1, tzinfo=UTC))
    OrderFactory()  # someone else's

    response = customer_client.get("/api/orders/")

    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert [order["id"] for order in response.json()["results"]] == [newer.id, older.id]


def test_list_filters_by_status(customer_client, customer):
    shipped = OrderFactory(customer=customer, status="shipped")
    OrderFactory(customer=customer, status="pending_shipment")

    response = customer_client.get("/api/orders/?status=shipped")

    assert [order["id"] for order in response.json()["results"]] == [shipped.id]


def test_list_refuses_an_unknown_status(customer_client):
    response = customer_client.get("/api/orders/?status=lost")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "status": ["Select a valid choice. lost is not one of the available choices."],
    }


def test_staff_list_shows_their_own_orders_only(staff_client, staff):
    OrderFactory()

    response = staff_client.get("/api/orders/")

    assert response.json()["count"] == 0


def test_customer_retrieves_their_order(customer_client, customer):
    line = OrderLineFactory(order__customer=customer, quantity=3, product__price=Decimal("2.00"))

    response = customer_client.get(f"/api/orders/{line.order_id}/")

    assert response.status_code == 200
    assert response.json()["id"] == line.order_id
    assert response.json()["items"] == [
        {"sku": line.sku, "name": line.name, "quantity": 3, "unit_price": "2.00", "line_total": "6.00"}
    ]


def test_another_customers_order_is_404_like_a_missing_one(customer_client):
    order = OrderFactory()

    theirs = customer_client.get(f"/api/orders/{order.id}/")
    missing = customer_client.get("/api/orders/ORD-0000000000000000/")

    assert (theirs.status_code, missing.status_code) == (404, 404)
    assert theirs.json() == missing.json() == {"detail": "Not found."}


def test_staff_retrieves_any_order(staff_client):
    order = OrderFactory()

    response = staff_client.get(f"/api/orders/{order.id}/")

    assert response.status_code == 200
    assert response.json()["id"] == order.id


def test_orders_cannot_be_changed_through_the_api(customer_client, customer):
    order = OrderFactory(customer=customer)

    response = customer_client.patch(f"/api/orders/{order.id}/", {"status": "delivered"})

    assert response.status_code == 405
    assert Order.objects.get().status == "pending_shipment"

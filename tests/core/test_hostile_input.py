"""Hostile request bodies are a 400 with a JSON ``detail``, never a 500 (core/parsers.py)."""

import json

import pytest

from core.parsers import MAX_DEPTH, too_deep
from sales.models import IdempotencyKey, Order, Product
from tests.factories import ADDRESS

pytestmark = pytest.mark.django_db

TOO_DEEP = {"detail": f"JSON parse error - arrays and objects nest more than {MAX_DEPTH} levels deep."}
LONE_SURROGATE = {"detail": "JSON parse error - a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)."}


def nested(depth: int) -> str:
    """An order body with ``depth`` levels in all, the innermost in a field nobody reads."""
    return json.dumps({"items": [{"sku": "MUG-1", "quantity": 1}], "shipping_address": ADDRESS, "note": 1})[:-2] + (
        "[" * (depth - 1) + "]" * (depth - 1) + "}"
    )


def post_json(client, path, text, **headers):
    return client.generic(
        "POST", path, text.encode("utf-8", "surrogatepass"), content_type="application/json", **headers
    )


# --- nesting --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/auth/token/", "/api/auth/token/refresh/", "/api/auth/register/"])
def test_json_nested_thousands_deep_is_a_400_for_anyone(anon_client, path):
    response = post_json(anon_client, path, "[" * 5000 + "]" * 5000)

    assert (response.status_code, response.json()) == (400, TOO_DEEP)


def test_json_nested_thousands_deep_is_a_400_on_orders(customer_client, mug):
    response = post_json(customer_client, "/api/orders/", '{"items": ' + "[" * 5000 + "]" * 5000 + "}")

    assert (response.status_code, response.json()) == (400, TOO_DEEP)
    assert Order.objects.count() == 0


def test_an_unclosed_deep_nesting_is_a_400(customer_client):
    response = post_json(customer_client, "/api/orders/", '{"a": ' + "[{" * 100_000)

    assert (response.status_code, response.json()) == (400, TOO_DEEP)


def test_an_order_nested_exactly_as_deep_as_allowed_is_placed(customer_client, mug):
    response = post_json(customer_client, "/api/orders/", nested(MAX_DEPTH))

    assert response.status_code == 201


def test_one_level_deeper_is_refused(customer_client, mug):
    response = post_json(customer_client, "/api/orders/", nested(MAX_DEPTH + 1))

    assert (response.status_code, response.json()) == (400, TOO_DEEP)
    assert Product.objects.get().stock_quantity == 10


@pytest.mark.parametrize(
    ("text", "deeper_than_2"),
    [
        ("[[1]]", False),
        ("[[[1]]]", True),
        ('[["[[[[[[[[", "]]]]]]]]]"]]', False),  # brackets in strings do not count
        ('[[["\\"]]]]]]"]]]', True),  # nor after an escaped quote
        ('[["\\\\"], [[]]]', True),  # an escaped backslash ends the string
        ('{"a": {"b": {"c": 1}}}', True),
        ('{"a": [], "b": [], "c": [], "d": {}}', False),
        ("[[[", True),  # never closed: the parser would still go that deep
        ("]]][[", False),
        ('"[[[[[[', False),  # an unterminated string runs to the end
    ],
)
def test_depth_is_measured_outside_strings(text, deeper_than_2):
    assert too_deep(text, limit=2) is deeper_than_2


# --- Unicode, numbers, encodings ------------------------------------------------------------


def test_a_lone_surrogate_in_an_ignored_field_with_an_idempotency_key_is_a_400(customer_client, mug):
    body = json.dumps({"items": [{"sku": "MUG-1", "quantity": 1}], "shipping_address": ADDRESS, "note": "\ud800"})

    response = post_json(customer_client, "/api/orders/", body, HTTP_IDEMPOTENCY_KEY="key-1")

    assert (response.status_code, response.json()) == (400, LONE_SURROGATE)
    assert (Order.objects.count(), IdempotencyKey.objects.count()) == (0, 0)


@pytest.mark.parametrize("escape", ["\\udc00", "\\uDBFF", "\\ud83d x", "\\ude00\\ud83d"])
def test_a_lone_surrogate_anywhere_is_a_400(anon_client, escape):
    response = post_json(anon_client, "/api/auth/token/", '{"username": "ada", "password": "x", "' + escape + '": 1}')

    assert (response.status_code, response.json()) == (400, LONE_SURROGATE)


def test_a_surrogate_pair_is_text(customer_client, mug):
    body = json.dumps({"items": [{"sku": "MUG-1", "quantity": 1}], "shipping_address": {**ADDRESS, "name": "Ada 😀"}})

    response = post_json(customer_client, "/api/orders/", body)  # json.dumps writes 😀 as \ud83d\ude00

    assert (response.status_code, response.json()["shipping_address"]["name"]) == (201, "Ada 😀")


@pytest.mark.parametrize("number", ["1e999", "-1e999", "1" * 5000])
def test_a_number_out_of_range_is_a_400(customer_client, number):
    response = post_json(customer_client, "/api/orders/", '{"items": [{"sku": "MUG-1", "quantity": ' + number + "}]}")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - ")


def test_a_body_that_is_not_utf8_is_a_400(customer_client):
    response = customer_client.generic("POST", "/api/orders/", b'{"a": "\xff"}', content_type="application/json")

    assert (response.status_code, response.json()) == (
        400,
        {"detail": "JSON parse error - the body is not UTF-8: invalid start byte."},
    )


def test_json_in_another_charset_is_a_400(customer_client):
    response = customer_client.generic(
        "POST", "/api/orders/", "{}".encode("utf-16"), content_type="application/json; charset=utf-16"
    )

    assert (response.status_code, response.json()) == (400, {"detail": 'Unsupported charset "utf-16": JSON is UTF-8.'})


def test_malformed_json_is_a_400(anon_client):
    response = post_json(anon_client, "/api/auth/token/", '{"username": ')

    assert (response.status_code, response.json()) == (
        400,
        {"detail": "JSON parse error - Expecting value: line 1 column 14 (char 13)"},
    )

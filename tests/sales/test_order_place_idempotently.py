"""The Idempotency-Key protocol, called as the order view calls it (sales.services).
The HTTP answers it leads to are pinned in test_idempotency.py."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import OperationalError
from django.utils import timezone

from sales import services
from sales.models import IdempotencyKey, Order, Product
from sales.services import (
    AmountsTooLarge,
    IdempotencyKeyInProgress,
    IdempotencyKeyMismatch,
    LineRequest,
    OrderPlacement,
    ShippingAddress,
    UnavailableLine,
    UnknownProducts,
    order_place,
    order_place_idempotently,
    request_fingerprint,
)
from tests.core.test_errors import products_held
from tests.factories import CustomerFactory, IdempotencyKeyFactory, ProductFactory

pytestmark = pytest.mark.django_db

ADDRESS = ShippingAddress(name="Ada", line1="Main St 1", city="Berlin", postal_code="10115", country="DE")
BODY = {"items": [{"sku": "MUG-1", "quantity": 2}], "shipping_address": {"name": "Ada"}}


def place(customer, quantity=2, key="key-1", body=BODY, sku="MUG-1"):
    return order_place_idempotently(
        customer=customer,
        lines=[LineRequest(sku=sku, quantity=quantity)],
        shipping_address=ADDRESS,
        idempotency_key=key,
        request_body=body,
    )


def key_row():
    return IdempotencyKey.objects.values("key", "state", "response_status", "response_body", "order_id").get()


def test_the_first_request_places_the_order_and_the_key_remembers_it(customer, mug):
    placement = place(customer)

    order = Order.objects.get()
    assert placement == OrderPlacement(order=order)
    assert [(line.sku, line.quantity) for line in placement.order.lines.all()] == [("MUG-1", 2)]
    assert key_row() == {
        "key": "key-1",
        "state": IdempotencyKey.State.COMPLETED,
        "response_status": 201,
        "response_body": None,
        "order_id": order.id,
    }
    assert IdempotencyKey.objects.get().request_fingerprint == request_fingerprint(BODY)


def test_a_retry_gets_the_same_order_and_takes_no_stock(customer, mug, django_assert_num_queries):
    first = place(customer)

    # The claim's insert, refused (in the test's transaction: with a savepoint, rolled back to and
    # released), then the key, the order and its lines: no write.
    with django_assert_num_queries(7):
        again = place(customer)

    assert again == OrderPlacement(order=first.order, replayed=True)
    assert [(line.sku, line.quantity) for line in again.order.lines.all()] == [("MUG-1", 2)]
    assert (Order.objects.count(), Product.objects.get().stock_quantity) == (1, 8)


def test_a_refusal_for_want_of_stock_is_remembered_and_given_again(customer, mug):
    first = place(customer, quantity=11)
    Product.objects.update(stock_quantity=100)
    again = place(customer, quantity=11)

    refused = (UnavailableLine(sku="MUG-1", requested=11, available=10),)
    assert (first, again) == (OrderPlacement(unavailable=refused), OrderPlacement(unavailable=refused, replayed=True))
    assert key_row() == {
        "key": "key-1",
        "state": IdempotencyKey.State.COMPLETED,
        "response_status": 409,
        "response_body": {"unavailable": [{"sku": "MUG-1", "requested": 11, "available": 10}]},
        "order_id": "",
    }
    assert (Order.objects.count(), Product.objects.get().stock_quantity) == (0, 100)


def test_the_same_key_with_another_body_is_a_mismatch(customer, mug):
    place(customer)

    with pytest.raises(IdempotencyKeyMismatch):
        place(customer, quantity=3, body={**BODY, "items": [{"sku": "MUG-1", "quantity": 3}]})

    assert (Order.objects.count(), Product.objects.get().stock_quantity) == (1, 8)


def test_the_body_as_sent_is_what_must_match_not_the_order_it_asks_for(customer, mug):
    place(customer)

    # The same order, with a field the API ignores: not the same request.
    with pytest.raises(IdempotencyKeyMismatch):
        place(customer, body={**BODY, "note": "hello"})


def test_a_key_whose_request_still_runs_is_in_progress(customer, mug):
    IdempotencyKeyFactory(user=customer, key="key-1", request_fingerprint=request_fingerprint(BODY))

    with pytest.raises(IdempotencyKeyInProgress):
        place(customer)

    assert (Order.objects.count(), IdempotencyKey.objects.get().state) == (0, IdempotencyKey.State.IN_PROGRESS)


def test_a_key_left_in_progress_past_the_lock_timeout_is_taken_over(customer, mug, settings):
    died = timezone.now() - settings.IDEMPOTENCY_KEY_LOCK_TIMEOUT - timedelta(seconds=1)
    IdempotencyKeyFactory(user=customer, key="key-1", request_fingerprint=request_fingerprint(BODY), locked_at=died)

    placement = place(customer)

    assert key_row()["order_id"] == placement.order.id == Order.objects.get().id


def test_a_key_left_in_progress_within_the_lock_timeout_is_not_taken_over(customer, mug, settings):
    recently = timezone.now() - settings.IDEMPOTENCY_KEY_LOCK_TIMEOUT + timedelta(seconds=5)
    IdempotencyKeyFactory(user=customer, key="key-1", request_fingerprint=request_fingerprint(BODY), locked_at=recently)

    with pytest.raises(IdempotencyKeyInProgress):
        place(customer)


def test_an_unknown_product_frees_the_key(customer, mug):
    with pytest.raises(UnknownProducts) as refused:
        place(customer, sku="NOPE")

    assert refused.value.skus == ["NOPE"]
    assert IdempotencyKey.objects.exists() is False


def test_an_amount_too_large_frees_the_key(customer):
    ProductFactory(sku="DEAR", price=Decimal("99999999.99"), stock_quantity=1000)

    with pytest.raises(AmountsTooLarge) as refused:
        place(customer, sku="DEAR", quantity=1000)

    assert refused.value.skus == ["DEAR"]
    assert IdempotencyKey.objects.exists() is False


def test_an_error_while_placing_frees_the_key_and_is_raised(customer, mug, monkeypatch):
    def database_away(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "order_place", database_away)

    with pytest.raises(OperationalError):
        place(customer)

    assert IdempotencyKey.objects.exists() is False


@pytest.mark.django_db(transaction=True)
def test_a_database_timing_out_while_placing_frees_the_key_for_the_retry(customer, mug):
    # The order's transaction gives up waiting for the products (statement_timeout): a 503.
    with products_held(), pytest.raises(OperationalError):
        place(customer)

    assert (IdempotencyKey.objects.exists(), Order.objects.count(), Product.objects.get().stock_quantity) == (
        False,
        0,
        10,
    )
    assert place(customer).order == Order.objects.get()


def test_an_order_whose_key_was_taken_over_meanwhile_is_rolled_back(customer, mug):
    claimed = IdempotencyKeyFactory(user=customer, key="key-1", locked_at=timezone.now() - timedelta(minutes=1))
    IdempotencyKey.objects.filter(pk=claimed.pk).update(locked_at=timezone.now())  # another request took it over

    with pytest.raises(IdempotencyKeyInProgress):
        order_place(
            customer=customer,
            lines=[LineRequest(sku="MUG-1", quantity=2)],
            shipping_address=ADDRESS,
            claimed_key=claimed,
        )

    assert (Order.objects.count(), Product.objects.get().stock_quantity) == (0, 10)
    assert IdempotencyKey.objects.get().state == IdempotencyKey.State.IN_PROGRESS


def test_without_a_key_it_places_the_order_and_stores_no_key(customer, mug):
    placement = place(customer, key=None)

    assert placement == OrderPlacement(order=Order.objects.get())
    assert IdempotencyKey.objects.exists() is False


def test_without_a_key_a_refusal_for_want_of_stock_is_returned(customer, mug):
    placement = place(customer, quantity=11, key=None)

    assert placement == OrderPlacement(unavailable=(UnavailableLine(sku="MUG-1", requested=11, available=10),))
    assert (Order.objects.count(), IdempotencyKey.objects.exists()) == (0, False)


def test_keys_are_the_users_own(customer, mug):
    mine = place(customer)
    theirs = place(CustomerFactory())

    assert (mine.replayed, theirs.replayed, Order.objects.count()) == (False, False, 2)

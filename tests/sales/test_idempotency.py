import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from sales.models import IdempotencyKey, Order, Product
from sales.services import idempotency_keys_purge, request_fingerprint
from sales.tasks import purge_idempotency_keys
from tests.clients import bearer_client
from tests.factories import CustomerFactory, IdempotencyKeyFactory, ProductFactory
from tests.metrics import scrape

BODY = {
    "items": [{"sku": "MUG-1", "quantity": 2}],
    "shipping_address": {
        "name": "Ada",
        "line1": "Main St 1",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
    },
}


def post(client, body=BODY, key="key-1"):
    return client.post("/api/orders/", body, HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_replay_returns_the_first_answer_without_a_second_order(customer_client, mug):
    first = post(customer_client)
    again = post(customer_client)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert Order.objects.count() == 1
    assert Product.objects.get().stock_quantity == 8


@pytest.mark.django_db
def test_replay_of_a_refusal_is_the_same_refusal(customer_client, mug):
    first = post(customer_client, {**BODY, "items": [{"sku": "MUG-1", "quantity": 11}]})
    Product.objects.update(stock_quantity=100)
    again = post(customer_client, {**BODY, "items": [{"sku": "MUG-1", "quantity": 11}]})

    assert (first.status_code, again.status_code) == (409, 409)
    assert again.content == first.content
    assert (
        again.json()
        == first.json()
        == {
            "detail": "Some products are not available in the quantity asked for.",
            "unavailable": [{"sku": "MUG-1", "requested": 11, "available": 10}],
        }
    )
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_a_replay_is_not_counted_again(customer_client, client, mug):
    before = scrape(client)

    post(customer_client)
    post(customer_client)
    post(customer_client, {**BODY, "items": [{"sku": "MUG-1", "quantity": 11}]}, key="key-2")
    post(customer_client, {**BODY, "items": [{"sku": "MUG-1", "quantity": 11}]}, key="key-2")
    after = scrape(client)

    counted = [("orders_placed_total", ()), ("orders_refused_total", (("reason", "unavailable"),))]
    assert [after.get(name, 0) - before.get(name, 0) for name in counted] == [1, 1]


@pytest.mark.django_db
def test_same_key_with_another_body_is_422(customer_client, mug):
    post(customer_client)

    response = post(customer_client, {**BODY, "items": [{"sku": "MUG-1", "quantity": 3}]})

    assert response.status_code == 422
    assert response.json() == {"detail": "This Idempotency-Key was already used with a different request body."}
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_scoped_per_user(customer_client, mug):
    other_client = bearer_client(CustomerFactory())

    mine = post(customer_client)
    theirs = post(other_client)

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert Order.objects.count() == 2


@pytest.mark.django_db
def test_bad_input_does_not_use_up_the_key(customer_client, mug):
    refused = post(customer_client, {**BODY, "items": [{"sku": "NOPE", "quantity": 1}]})
    placed = post(customer_client)

    assert (refused.status_code, placed.status_code) == (400, 201)
    assert IdempotencyKey.objects.get().order_id == placed.json()["id"]


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "naïve"])
def test_malformed_keys_are_refused(customer_client, mug, key):
    response = post(customer_client, key=key)

    assert response.status_code == 400
    assert response.json() == {"detail": "Idempotency-Key must be 1 to 255 printable ASCII characters."}
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_longest_key_is_accepted(customer_client, mug):
    response = post(customer_client, key="k" * 255)

    assert response.status_code == 201


@pytest.mark.django_db
def test_key_of_a_request_that_died_is_taken_over(customer_client, customer, mug):
    IdempotencyKeyFactory(
        user=customer,
        key="key-1",
        request_fingerprint=request_fingerprint(BODY),
        locked_at=timezone.now() - timedelta(minutes=2),
    )

    response = post(customer_client)

    assert response.status_code == 201
    assert IdempotencyKey.objects.get().state == IdempotencyKey.State.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_same_key_while_the_first_request_runs_is_409():
    # Given a first request that is held inside its transaction (we lock the product row)
    customer = CustomerFactory()
    ProductFactory(sku="MUG-1", stock_quantity=10)
    results = {}

    def first_request():
        try:
            results["first"] = post(bearer_client(customer))
        finally:
            connection.close()

    with transaction.atomic():
        Product.objects.select_for_update().get(sku="MUG-1")
        thread = threading.Thread(target=first_request)
        thread.start()
        deadline = timezone.now() + timedelta(seconds=10)
        while not IdempotencyKey.objects.exists() and timezone.now() < deadline:
            threading.Event().wait(0.01)
        # When the same request comes again while the first one still runs
        results["second"] = post(bearer_client(customer))
    thread.join(timeout=10)

    # Then the second is told to retry later, and the first completes normally
    assert results["second"].status_code == 409
    assert results["second"].json() == {
        "detail": "A request with this Idempotency-Key is still being processed; retry later."
    }
    assert results["first"].status_code == 201
    assert Order.objects.count() == 1
    assert post(bearer_client(customer)).json()["id"] == results["first"].json()["id"]


@pytest.mark.django_db
def test_purge_keeps_keys_younger_than_a_day():
    now = timezone.now()
    kept = IdempotencyKeyFactory(created_at=now - timedelta(hours=23, minutes=59))
    IdempotencyKeyFactory(created_at=now - timedelta(hours=24, minutes=1))

    deleted = idempotency_keys_purge(now=now)

    assert deleted == 1
    assert list(IdempotencyKey.objects.values_list("pk", flat=True)) == [kept.pk]


@pytest.mark.django_db
def test_purge_task_deletes_expired_keys():
    IdempotencyKeyFactory(created_at=timezone.now() - timedelta(days=2))

    purge_idempotency_keys.apply()

    assert IdempotencyKey.objects.exists() is False

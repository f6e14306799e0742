"""Delivery consuming order.created: the inbox and the shipment, against real PostgreSQL."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
import redis
from django.conf import settings
from django.db import connection

from delivery import handlers
from delivery.models import InboxMessage, OutboxMessage, Shipment
from messaging.acks import ack_list
from tests.factories import ORDER_CREATED, DeliveryInboxMessageFactory, signed_envelope
from tests.locks import wait_until_another_transaction_waits_for_this_one

ORDER_CREATED_ID = uuid.UUID("0b6a3c1e-5d2f-4e8a-9c7b-1a2b3c4d5e6f")


def order_created() -> dict:
    return signed_envelope(id=ORDER_CREATED_ID, type=ORDER_CREATED.TYPE, message=ORDER_CREATED, source="sales")


@pytest.mark.django_db(transaction=True)
def test_two_workers_consuming_the_same_message_at_once_apply_it_once(broker, monkeypatch):
    envelope = order_created()
    create_shipment = handlers._create_shipment

    def create_shipment_once_the_other_copy_waits(message, envelope):
        # Only the copy that recorded the message gets here; it holds the inbox row while the
        # other copy's insert waits for it, so the two really overlap.
        wait_until_another_transaction_waits_for_this_one()
        create_shipment(message, envelope)

    monkeypatch.setattr(handlers, "_create_shipment", create_shipment_once_the_other_copy_waits)
    broker.deliver = False
    together = Barrier(2)

    def worker(_):
        try:
            together.wait(timeout=10)
            return handlers.order_created(envelope)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(worker, range(2)))

    assert outcomes == ["applied", "duplicate"]
    assert list(Shipment.objects.values_list("order_id", flat=True)) == [ORDER_CREATED.order_id]
    assert list(InboxMessage.objects.values_list("message_id", flat=True)) == [ORDER_CREATED_ID]
    assert redis.Redis.from_url(settings.REDIS_URL).llen(ack_list("sales")) == 2  # each copy acknowledged


@pytest.mark.django_db
def test_consuming_a_first_copy_takes_four_statements(broker, django_assert_num_queries):
    broker.deliver = False

    # savepoint (the test's transaction stands for the worker's), inbox, shipment, release; the
    # acknowledgement goes to Redis after commit
    with django_assert_num_queries(4):
        outcome = handlers.order_created(order_created())

    assert (outcome, Shipment.objects.count()) == ("applied", 1)


@pytest.mark.django_db
def test_consuming_a_duplicate_takes_three_statements(broker, django_assert_num_queries):
    DeliveryInboxMessageFactory(message_id=ORDER_CREATED_ID)
    broker.deliver = False

    # savepoint, inbox (already there), release
    with django_assert_num_queries(3):
        outcome = handlers.order_created(order_created())

    assert (outcome, Shipment.objects.count(), OutboxMessage.objects.count()) == ("duplicate", 0, 0)

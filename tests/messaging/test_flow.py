"""The whole message flow in one process: Celery eager, a recording broker (see conftest).
The same flow over a real Redis and real workers is in tests/integration."""

import logging
import threading
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.context import current_correlation_id
from delivery.models import DeadLetter as DeliveryDeadLetter
from delivery.models import InboxMessage as DeliveryInbox
from delivery.models import OutboxMessage as DeliveryOutbox
from delivery.models import Shipment
from delivery.services import shipment_mark_delivered, shipment_mark_shipped
from messaging.acks import AckResult, ack_list, acknowledgements_apply
from messaging.consumer import dead_letter_redrive
from messaging.envelope import Envelope, ack_sign
from messaging.models import OutboxState
from messaging.outbox import outbox_write, relay_batch
from messaging.transport import task_named
from sales.contracts import OrderCreated
from sales.models import DeadLetter as SalesDeadLetter
from sales.models import Order, OrderStatusChange
from sales.models import OutboxMessage as SalesOutbox
from sales.services import LineRequest, ProductsUnavailable, ShippingAddress, order_place
from tests.factories import OrderFactory, ShipmentFactory
from tests.outages import closed_port

pytestmark = pytest.mark.django_db

ADDRESS = ShippingAddress(name="Ada", line1="Main St 1", city="Berlin", postal_code="10115", country="DE")


def place(customer, quantity=2):
    return order_place(customer=customer, lines=[LineRequest(sku="MUG-1", quantity=quantity)], shipping_address=ADDRESS)


def pending_acks(app_label: str) -> list[str]:
    """The acknowledgements of ``app_label``'s messages waiting in Redis for the relay."""
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    try:
        return client.lrange(ack_list(app_label), 0, -1)
    finally:
        client.close()


def test_order_created_is_written_in_the_orders_transaction(customer, mug, broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        order = place(customer)

    row = SalesOutbox.objects.get()
    assert (row.type, row.state, row.attempts) == ("order.created", OutboxState.AWAITING_ACK, 1)
    assert OrderCreated.from_dict(row.envelope["payload"]).order_id == order.id
    assert (len(callbacks), broker.published) == (1, [])


def test_a_refused_order_writes_no_message(customer, mug, broker):
    with pytest.raises(ProductsUnavailable):
        place(customer, quantity=11)

    assert SalesOutbox.objects.exists() is False


def test_a_rolled_back_transaction_takes_its_message_with_it(customer, mug, broker):
    def place_then_fail():
        with transaction.atomic():
            place(customer)
            raise RuntimeError("something later in the same transaction failed")

    with pytest.raises(RuntimeError):
        place_then_fail()

    assert (Order.objects.count(), SalesOutbox.objects.count()) == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_the_outbox_refuses_a_write_outside_a_transaction():
    message = OrderCreated(order_id="ORD-1", items=(), shipping_address=None, created_at="2026-11-28T10:00:00+00:00")

    with pytest.raises(RuntimeError, match="inside the transaction"):
        outbox_write(app_label="sales", message=message)


def test_a_placed_order_becomes_a_shipment_and_its_message_is_acknowledged(
    customer, mug, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = place(customer)
    shipment = Shipment.objects.get()
    before_the_relay = SalesOutbox.objects.get().state

    taken = acknowledgements_apply(app_label="sales")  # the relay's next pass

    sales_row = SalesOutbox.objects.get()
    assert broker.types() == ["order.created"]
    assert (shipment.order_id, shipment.status, shipment.items) == (
        order.id,
        "pending",
        [{"sku": "MUG-1", "name": "Enamel mug", "quantity": 2}],
    )
    assert shipment.shipping_address == {
        "name": "Ada",
        "line1": "Main St 1",
        "line2": "",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
    }
    assert (before_the_relay, taken) == (OutboxState.AWAITING_ACK, AckResult(taken=1, applied=1))
    assert (sales_row.state, sales_row.attempts, sales_row.acked_at is not None) == (OutboxState.DONE, 1, True)
    assert (pending_acks("sales"), DeliveryOutbox.objects.exists()) == ([], False)


def test_shipped_and_delivered_reach_the_order(customer, mug, broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order = place(customer)
    shipment = Shipment.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        shipment_mark_shipped(shipment_id=shipment.id, tracking_number="1Z999")
    order.refresh_from_db()
    assert order.status == "shipped"

    with django_capture_on_commit_callbacks(execute=True):
        shipment_mark_delivered(shipment_id=shipment.id)
    acknowledgements_apply(app_label="delivery")
    order.refresh_from_db()
    shipment.refresh_from_db()
    assert (order.status, order.shipped_at, order.delivered_at) == (
        "delivered",
        shipment.shipped_at,
        shipment.delivered_at,
    )
    assert list(OrderStatusChange.objects.values_list("to_status", "source")) == [
        ("pending_shipment", "api"),
        ("shipped", "delivery"),
        ("delivered", "delivery"),
    ]
    assert list(DeliveryOutbox.objects.values_list("state", flat=True)) == [OutboxState.DONE] * 2


def test_the_same_message_twice_is_applied_once_and_acknowledged_twice(
    customer, mug, broker, django_capture_on_commit_callbacks
):
    broker.deliver = False
    with django_capture_on_commit_callbacks(execute=True):
        place(customer)
    envelope = broker.published[0]
    broker.deliver = True

    with django_capture_on_commit_callbacks(execute=True):
        first = task_named("delivery.order_created").apply(args=[envelope]).get()
        second = task_named("delivery.order_created").apply(args=[envelope]).get()

    taken = acknowledgements_apply(app_label="sales")

    assert (first, second) == ("applied", "duplicate")
    assert (Shipment.objects.count(), DeliveryInbox.objects.count()) == (1, 1)
    assert taken == AckResult(taken=2, applied=1)
    assert SalesOutbox.objects.get().state == OutboxState.DONE


def test_a_tampered_message_is_a_dead_letter_and_is_never_applied(
    customer, mug, broker, django_capture_on_commit_callbacks
):
    broker.deliver = False
    with django_capture_on_commit_callbacks(execute=True):
        place(customer)
    envelope = broker.published[0]
    tampered = {
        **envelope,
        "payload": {**envelope["payload"], "items": [{"sku": "MUG-1", "name": "x", "quantity": 900}]},
    }

    outcome = task_named("delivery.order_created").apply(args=[tampered]).get()

    letter = DeliveryDeadLetter.objects.get()
    assert outcome == "rejected"
    assert (letter.reason, letter.state, str(letter.message_id), letter.envelope) == (
        "bad signature",
        "dead",
        envelope["id"],
        tampered,
    )
    assert (Shipment.objects.count(), pending_acks("sales")) == (0, [])


def test_a_rejected_message_seen_again_is_counted_not_duplicated(customer, mug, broker):
    unsigned = {"id": "6f1c2a4e-1111-4c1e-9a7d-2b3c4d5e6f70", "type": "order.created", "payload": {}}

    for _ in range(3):
        task_named("delivery.order_created").apply(args=[unsigned])

    letter = DeliveryDeadLetter.objects.get()
    assert (letter.reason, letter.times_seen) == ("unsigned", 3)


def test_an_unknown_version_is_a_dead_letter(customer, mug, broker, django_capture_on_commit_callbacks):
    broker.deliver = False
    with django_capture_on_commit_callbacks(execute=True):
        place(customer)
    envelope = broker.published[0]
    future = Envelope(
        type="order.created", version=2, source="sales", payload=envelope["payload"], correlation_id="c"
    ).signed()

    task_named("delivery.order_created").apply(args=[future])

    assert DeliveryDeadLetter.objects.get().reason == "unsupported version 2 of order.created"
    assert Shipment.objects.exists() is False


def test_delivered_before_shipped_ends_delivered_with_both_times(broker, django_capture_on_commit_callbacks):
    order = OrderFactory()
    shipment = ShipmentFactory(order_id=order.id)
    broker.deliver = False
    with django_capture_on_commit_callbacks(execute=True):
        shipment_mark_shipped(shipment_id=shipment.id)
    with django_capture_on_commit_callbacks(execute=True):
        shipment_mark_delivered(shipment_id=shipment.id)
    shipped, delivered = broker.published

    with django_capture_on_commit_callbacks(execute=True):
        task_named("sales.shipment_status_changed").apply(args=[delivered])
        task_named("sales.shipment_status_changed").apply(args=[shipped])

    order.refresh_from_db()
    shipment.refresh_from_db()
    assert (order.status, order.shipped_at, order.delivered_at) == (
        "delivered",
        shipment.delivered_at,
        shipment.delivered_at,
    )
    assert list(OrderStatusChange.objects.values_list("from_status", "to_status")) == [
        ("pending_shipment", "delivered")
    ]


def retries_logged(caplog) -> int:
    return [record.getMessage() for record in caplog.records].count("message consumer retrying")


def test_a_message_that_cannot_be_applied_becomes_a_dead_letter_at_once(
    broker, django_capture_on_commit_callbacks, caplog
):
    shipment = ShipmentFactory(order_id="ORD-NOT-IN-SALES")  # sales has no such order
    broker.deliver = False
    with django_capture_on_commit_callbacks(execute=True):
        shipment_mark_shipped(shipment_id=shipment.id)

    result = task_named("sales.shipment_status_changed").apply(args=[broker.published[0]])

    letter = SalesDeadLetter.objects.get()
    assert (result.state, retries_logged(caplog)) == ("FAILURE", 0)
    assert (letter.reason, letter.task_name) == ("failed", "sales.shipment_status_changed")
    assert letter.error == "DoesNotExist('Order matching query does not exist.')"


@pytest.mark.django_db(transaction=True)
def test_a_message_blocked_by_a_lock_is_retried_and_dead_only_once_its_retries_are_spent(broker, caplog):
    order = OrderFactory(id="ORD-LOCKED")
    shipment = ShipmentFactory(order_id=order.id)
    broker.deliver = False
    shipment_mark_shipped(shipment_id=shipment.id)  # sends on commit (no test transaction here)
    locked, release = threading.Event(), threading.Event()

    def hold_the_order_row() -> None:
        with transaction.atomic():
            Order.objects.select_for_update().get(id=order.id)
            locked.set()
            release.wait(30)
        connection.close()

    holder = threading.Thread(target=hold_the_order_row)
    holder.start()
    locked.wait(10)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '50ms'")
    try:
        result = task_named("sales.shipment_status_changed").apply(args=[broker.published[0]])
    finally:
        release.set()
        holder.join(10)

    letter = SalesDeadLetter.objects.get()
    assert (result.state, retries_logged(caplog)) == ("FAILURE", settings.MESSAGING_CONSUMER_MAX_RETRIES)
    assert letter.reason == "failed after retries"
    assert letter.error.startswith("OperationalError('canceling statement due to lock timeout")
    assert Order.objects.get(id=order.id).status == "pending_shipment"


def test_a_dead_letter_is_re_driven_once_its_cause_is_fixed(broker, django_capture_on_commit_callbacks):
    shipment = ShipmentFactory(order_id="ORD-LATE")
    broker.deliver = False
    with django_capture_on_commit_callbacks(execute=True):
        shipment_mark_shipped(shipment_id=shipment.id)
    task_named("sales.shipment_status_changed").apply(args=[broker.published[0]])
    OrderFactory(id="ORD-LATE")

    with django_capture_on_commit_callbacks(execute=True):
        applied = dead_letter_redrive(dead_letter=SalesDeadLetter.objects.get())

    letter = SalesDeadLetter.objects.get()
    assert applied is True
    assert (letter.state, letter.redriven_at is not None) == ("redriven", True)
    assert Order.objects.get(id="ORD-LATE").status == "shipped"


def test_a_tampered_dead_letter_stays_dead_when_re_driven(broker):
    task_named("delivery.order_created").apply(args=[{"id": "6f1c2a4e-1111-4c1e-9a7d-2b3c4d5e6f70"}])

    applied = dead_letter_redrive(dead_letter=DeliveryDeadLetter.objects.get())

    letter = DeliveryDeadLetter.objects.get()
    assert applied is False
    assert (letter.state, letter.times_seen) == ("dead", 2)


def test_each_request_correlation_id_travels_with_its_messages(
    customer, mug, broker, django_capture_on_commit_callbacks
):
    placing = current_correlation_id.set("request-that-placed")
    with django_capture_on_commit_callbacks(execute=True):
        place(customer)
    current_correlation_id.reset(placing)
    shipping = current_correlation_id.set("request-that-shipped")
    with django_capture_on_commit_callbacks(execute=True):
        shipment_mark_shipped(shipment_id=Shipment.objects.get().id)
    current_correlation_id.reset(shipping)

    assert [(envelope["type"], envelope["correlation_id"]) for envelope in broker.published] == [
        ("order.created", "request-that-placed"),
        ("shipment.status_changed", "request-that-shipped"),
    ]


def test_the_fast_path_leaves_a_message_to_the_relay_when_the_broker_is_down(
    customer, mug, broker, django_capture_on_commit_callbacks
):
    broker.down = True
    with django_capture_on_commit_callbacks(execute=True):
        order = place(customer)

    row = SalesOutbox.objects.get()
    assert Order.objects.get().id == order.id
    assert (row.state, row.attempts, row.sent_at, row.last_error) == (
        OutboxState.PENDING, 0, None, "ConnectionError('broker down')"
    )  # fmt: skip
    assert row.next_attempt_at <= timezone.now()


def test_a_fast_path_publish_failing_with_the_broker_there_is_the_messages_first_attempt(
    customer, mug, broker, django_capture_on_commit_callbacks, caplog
):
    with django_capture_on_commit_callbacks() as sends:
        place(customer)
    row = SalesOutbox.objects.get()
    missing = ModuleNotFoundError("No module named 'packaging'")
    broker.failing[str(row.id)] = missing
    before = timezone.now()

    sends[0]()

    row.refresh_from_db()
    assert (row.state, row.attempts, row.sent_at, row.last_error) == (
        OutboxState.PENDING, 1, None, "ModuleNotFoundError(\"No module named 'packaging'\")"
    )  # fmt: skip
    assert before + timedelta(seconds=4) <= row.next_attempt_at <= timezone.now() + timedelta(seconds=5)
    errors = [(record.getMessage(), record.exc_info[1]) for record in caplog.records if record.levelname == "ERROR"]
    assert errors == [("message publish failed", missing)]


def test_a_message_sent_to_the_wrong_task_is_a_dead_letter(customer, mug, broker, django_capture_on_commit_callbacks):
    broker.deliver = False
    with django_capture_on_commit_callbacks(execute=True):
        place(customer)

    outcome = task_named("sales.shipment_status_changed").apply(args=[broker.published[0]]).get()

    assert outcome == "rejected"
    assert SalesDeadLetter.objects.get().reason == "unexpected type order.created for sales.shipment_status_changed"
    assert Order.objects.get().status == "pending_shipment"


def test_a_message_whose_process_died_before_sending_is_sent_by_the_relay_once_overdue(customer, mug, broker):
    broker.deliver = False
    with transaction.atomic():  # committed, but its on-commit send never ran: the process died
        place(customer)
    row = SalesOutbox.objects.get()

    assert (relay_batch(app_label="sales").sent, broker.published) == (0, [])

    SalesOutbox.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert relay_batch(app_label="sales").sent == 1
    assert [envelope["id"] for envelope in broker.published] == [str(row.id)]


def test_an_acknowledgement_is_pushed_only_once_the_consumers_transaction_commits(
    customer, mug, broker, django_capture_on_commit_callbacks
):
    broker.deliver = False
    with django_capture_on_commit_callbacks(execute=True):
        place(customer)
    envelope = broker.published[0]

    with django_capture_on_commit_callbacks() as on_commit:
        task_named("delivery.order_created").apply(args=[envelope])
        before_commit = pending_acks("sales")
    for callback in on_commit:  # what the commit runs
        callback()

    assert before_commit == []
    assert pending_acks("sales") == [ack_sign(message_id=envelope["id"], recipient="sales")]


def test_no_acknowledgement_is_pushed_when_the_consumers_transaction_rolls_back(
    broker, django_capture_on_commit_callbacks
):
    shipment = ShipmentFactory(order_id="ORD-NOT-IN-SALES")  # sales has no such order: apply raises
    broker.deliver = False
    with django_capture_on_commit_callbacks(execute=True):
        shipment_mark_shipped(shipment_id=shipment.id)

    with django_capture_on_commit_callbacks(execute=True) as on_commit:
        result = task_named("sales.shipment_status_changed").apply(args=[broker.published[0]])

    assert (result.state, on_commit, pending_acks("delivery")) == ("FAILURE", [], [])


def test_an_acknowledgement_lost_with_redis_away_costs_a_resend_which_is_acknowledged(
    customer, mug, broker, settings, django_capture_on_commit_callbacks, caplog
):
    test_redis, settings.REDIS_URL = settings.REDIS_URL, f"redis://127.0.0.1:{closed_port()}/0"
    with django_capture_on_commit_callbacks(execute=True):
        place(customer)  # delivered and applied; its acknowledgement cannot be pushed
    settings.REDIS_URL = test_redis
    row = SalesOutbox.objects.get()
    nothing = acknowledgements_apply(app_label="sales")
    SalesOutbox.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())  # its ack is overdue

    with django_capture_on_commit_callbacks(execute=True):
        resent = relay_batch(app_label="sales")  # the copy is a duplicate, acknowledged again
    taken = acknowledgements_apply(app_label="sales")

    row.refresh_from_db()
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert (nothing, resent.sent, taken) == (AckResult(), 1, AckResult(taken=1, applied=1))
    assert (row.state, row.attempts) == (OutboxState.DONE, 2)
    assert (Shipment.objects.count(), DeliveryInbox.objects.count()) == (1, 1)
    assert warnings == ["acknowledgement not pushed"]


def test_a_consumer_retry_is_logged_as_a_warning(caplog):
    task = task_named("sales.shipment_status_changed")  # may set logging up again: listen after
    logging.getLogger().addHandler(caplog.handler)

    try:
        task.on_retry(ValueError("database away"), "task-1", [], {}, None)
    finally:
        logging.getLogger().removeHandler(caplog.handler)

    assert [(r.levelname, r.getMessage(), r.task, r.retries, r.error) for r in caplog.records] == [
        ("WARNING", "message consumer retrying", "sales.shipment_status_changed", 0, "ValueError('database away')")
    ]


def test_looking_up_a_task_again_leaves_logging_as_it_is():
    task_named("sales.shipment_status_changed")
    listener = logging.NullHandler()
    logging.getLogger().addHandler(listener)

    try:
        task_named("delivery.order_created")  # a dead-letter re-drive in the web process does this
        assert listener in logging.getLogger().handlers
    finally:
        logging.getLogger().removeHandler(listener)

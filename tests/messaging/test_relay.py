import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import InterfaceError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from kombu.exceptions import EncodeError

from messaging.models import OutboxState
from messaging.outbox import (
    RelayResult,
    messages_purge,
    outbox_redrive,
    relay_batch,
    retry_delay,
    send_now,
)
from sales.models import OutboxMessage as SalesOutbox
from tests.factories import (
    DeliveryInboxMessageFactory,
    DeliveryOutboxMessageFactory,
    SalesInboxMessageFactory,
    SalesOutboxMessageFactory,
)
from tests.metrics import scrape


@pytest.fixture
def quiet_broker(broker):
    broker.deliver = False
    return broker


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


@pytest.mark.django_db
def test_relay_sends_due_messages_oldest_first_in_batches(quiet_broker):
    oldest = SalesOutboxMessageFactory(next_attempt_at=ago(30))
    older = SalesOutboxMessageFactory(next_attempt_at=ago(20))
    SalesOutboxMessageFactory(next_attempt_at=ago(10))
    not_due = SalesOutboxMessageFactory(next_attempt_at=timezone.now() + timedelta(seconds=60))

    result = relay_batch(app_label="sales", batch_size=2)

    assert (result.sent, result.abandoned, result.broker_down) == (2, 0, False)
    assert [envelope["id"] for envelope in quiet_broker.published] == [str(oldest.id), str(older.id)]
    oldest.refresh_from_db()
    not_due.refresh_from_db()
    assert (oldest.state, oldest.attempts, oldest.sent_at is not None) == (OutboxState.AWAITING_ACK, 1, True)
    assert (not_due.state, not_due.attempts) == (OutboxState.PENDING, 0)


@pytest.mark.django_db
def test_a_sent_message_is_due_again_after_a_backoff(quiet_broker):
    row = SalesOutboxMessageFactory()
    before = timezone.now()

    relay_batch(app_label="sales")

    row.refresh_from_db()
    assert before + timedelta(seconds=4) <= row.next_attempt_at <= timezone.now() + timedelta(seconds=5)


@pytest.mark.django_db
def test_an_unacknowledged_message_is_sent_again_with_a_longer_wait(quiet_broker):
    row = SalesOutboxMessageFactory(state=OutboxState.AWAITING_ACK, attempts=3, next_attempt_at=ago(1))
    before = timezone.now()

    relay_batch(app_label="sales")

    row.refresh_from_db()
    assert len(quiet_broker.published) == 1
    assert (row.state, row.attempts) == (OutboxState.AWAITING_ACK, 4)
    assert before + timedelta(seconds=24) <= row.next_attempt_at <= timezone.now() + timedelta(seconds=30)


@pytest.mark.parametrize(("attempts", "low", "high"), [(1, 4, 5), (2, 8, 10), (3, 16, 20), (4, 24, 30), (12, 24, 30)])
def test_retry_delay_doubles_with_jitter_up_to_the_cap(attempts, low, high):
    delays = [retry_delay(attempts).total_seconds() for _ in range(200)]

    assert low <= min(delays) <= max(delays) <= high


@pytest.mark.django_db
def test_after_the_last_attempt_a_message_is_abandoned_and_not_sent(quiet_broker, settings, client, caplog):
    row = SalesOutboxMessageFactory(
        state=OutboxState.AWAITING_ACK, attempts=settings.MESSAGING_MAX_ATTEMPTS, next_attempt_at=ago(1)
    )
    before = scrape(client)

    result = relay_batch(app_label="sales")

    row.refresh_from_db()
    after = scrape(client)
    assert (result, quiet_broker.published) == (RelayResult(abandoned=1), [])
    assert (row.state, row.attempts, row.last_error) == (
        OutboxState.ABANDONED,
        20,
        "not acknowledged after 20 attempts",
    )
    assert (abandoned_counted(before, after), errors_logged(caplog)) == (1, [("message abandoned", None)])


@pytest.mark.django_db
def test_with_the_broker_down_nothing_is_counted_as_sent(quiet_broker):
    rows = SalesOutboxMessageFactory.create_batch(3)
    quiet_broker.down = True

    result = relay_batch(app_label="sales")

    assert (result.sent, result.broker_down) == (0, True)
    assert set(SalesOutbox.objects.values_list("state", "attempts")) == {(OutboxState.PENDING, 0)}
    rows[0].refresh_from_db()
    assert rows[0].last_error == "ConnectionError('broker down')"


@pytest.mark.django_db
def test_re_driving_an_abandoned_message_sends_it_again_from_scratch(quiet_broker):
    abandoned = SalesOutboxMessageFactory(state=OutboxState.ABANDONED, attempts=20, last_error="not acknowledged")
    alive = SalesOutboxMessageFactory(
        state=OutboxState.AWAITING_ACK, attempts=2, next_attempt_at=timezone.now() + timedelta(minutes=1)
    )

    count = outbox_redrive(app_label="sales", ids=[abandoned.id, alive.id])
    relay_batch(app_label="sales")

    abandoned.refresh_from_db()
    alive.refresh_from_db()
    assert count == 1
    assert (abandoned.state, abandoned.attempts, abandoned.last_error) == (OutboxState.AWAITING_ACK, 1, "")
    assert (alive.state, alive.attempts) == (OutboxState.AWAITING_ACK, 2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("label", "outbox_factory", "inbox_factory"),
    [
        ("sales", SalesOutboxMessageFactory, SalesInboxMessageFactory),
        ("delivery", DeliveryOutboxMessageFactory, DeliveryInboxMessageFactory),
    ],
    ids=["sales", "delivery"],
)
def test_purge_keeps_what_is_recent_or_still_in_flight(settings, label, outbox_factory, inbox_factory):
    now = timezone.now()
    old = now - settings.MESSAGING_RETENTION - timedelta(minutes=1)
    done_old = outbox_factory(state=OutboxState.DONE, created_at=old)
    done_new = outbox_factory(state=OutboxState.DONE)
    pending_old = outbox_factory(state=OutboxState.AWAITING_ACK, created_at=old)
    inbox_factory(message_id=done_old.id, received_at=old)
    inbox_factory(message_id=done_new.id)

    purged = messages_purge(app_label=label, now=now)

    assert purged == (1, 1)
    assert set(outbox_factory._meta.model.objects.values_list("pk", flat=True)) == {done_new.pk, pending_old.pk}
    assert list(inbox_factory._meta.model.objects.values_list("message_id", flat=True)) == [done_new.id]


@pytest.mark.django_db(transaction=True)
def test_relays_side_by_side_skip_the_rows_another_one_holds(quiet_broker):
    rows = SalesOutboxMessageFactory.create_batch(5)
    held = {rows[0].id, rows[1].id}
    locked, release = threading.Event(), threading.Event()

    def other_relay():
        try:
            with transaction.atomic():
                list(SalesOutbox.objects.select_for_update().filter(pk__in=held))
                locked.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_relay)
    thread.start()
    assert locked.wait(timeout=10)
    try:
        result = relay_batch(app_label="sales")
    finally:
        release.set()
        thread.join(timeout=10)

    assert result.sent == 3
    assert {envelope["id"] for envelope in quiet_broker.published} == {str(row.id) for row in rows[2:]}
    assert set(SalesOutbox.objects.filter(pk__in=held).values_list("state", flat=True)) == {OutboxState.PENDING}


@pytest.mark.django_db
def test_the_relay_command_runs_one_pass(quiet_broker):
    SalesOutboxMessageFactory.create_batch(2)

    call_command("outbox_relay", "--once")

    assert len(quiet_broker.published) == 2


@pytest.mark.django_db
def test_a_message_waiting_for_a_busy_consumer_is_not_sent_again(quiet_broker):
    quiet_broker.busy = {"delivery"}
    row = SalesOutboxMessageFactory(state=OutboxState.AWAITING_ACK, attempts=1, sent_at=ago(6), next_attempt_at=ago(1))
    before = timezone.now()

    result = relay_batch(app_label="sales")

    row.refresh_from_db()
    assert (result.sent, quiet_broker.published) == (0, [])
    assert (row.state, row.attempts) == (OutboxState.AWAITING_ACK, 1)
    assert before + timedelta(seconds=4) <= row.next_attempt_at <= timezone.now() + timedelta(seconds=5)


@pytest.mark.django_db
def test_past_its_patience_a_message_is_sent_again_even_to_a_busy_consumer(quiet_broker, settings):
    quiet_broker.busy = {"delivery"}
    SalesOutboxMessageFactory(
        state=OutboxState.AWAITING_ACK,
        attempts=3,
        sent_at=ago(30),
        next_attempt_at=ago(1),
        created_at=ago(settings.MESSAGING_RESEND_PATIENCE.total_seconds() + 1),
    )

    result = relay_batch(app_label="sales")

    assert (result.sent, len(quiet_broker.published)) == (1, 1)


@pytest.mark.django_db
def test_a_first_send_never_waits_for_a_busy_queue(quiet_broker):
    quiet_broker.busy = {"delivery"}
    SalesOutboxMessageFactory()

    result = relay_batch(app_label="sales")

    assert result.sent == 1


@pytest.mark.django_db
def test_a_failed_send_that_cannot_reach_the_database_either_is_left_to_the_relay(quiet_broker, monkeypatch):
    row = SalesOutboxMessageFactory(state=OutboxState.AWAITING_ACK, attempts=1)
    quiet_broker.down = True

    def connection_gone(*args, **kwargs):
        raise InterfaceError("connection already closed")

    monkeypatch.setattr(QuerySet, "update", connection_gone)
    sent = send_now(app_label="sales", row=row)  # on commit, after the order: must not raise
    monkeypatch.undo()

    row.refresh_from_db()
    assert (sent, row.state, row.attempts) == (False, OutboxState.AWAITING_ACK, 1)


# --- publishes that fail with the broker there ----------------------------------------------


def abandoned_counted(before: dict, after: dict) -> float:
    sales = ("outbox_abandoned_total", (("app", "sales"),))
    return after[sales] - before.get(sales, 0)


def errors_logged(caplog) -> list[tuple[str, BaseException | None]]:
    return [
        (record.getMessage(), record.exc_info and record.exc_info[1])
        for record in caplog.records
        if record.levelname == "ERROR"
    ]


@pytest.mark.django_db
def test_a_publish_failing_with_the_broker_there_costs_an_attempt_and_the_others_are_still_sent(quiet_broker, caplog):
    first, bad, last = (SalesOutboxMessageFactory(next_attempt_at=ago(seconds)) for seconds in (30, 20, 10))
    missing = ModuleNotFoundError("No module named 'packaging'")
    quiet_broker.failing[str(bad.id)] = missing
    before = timezone.now()

    result = relay_batch(app_label="sales")

    bad.refresh_from_db()
    assert result == RelayResult(sent=2, abandoned=0, failed=1, broker_down=False)
    assert [envelope["id"] for envelope in quiet_broker.published] == [str(first.id), str(last.id)]
    assert (bad.state, bad.attempts, bad.sent_at, bad.last_error) == (
        OutboxState.PENDING, 1, None, "ModuleNotFoundError(\"No module named 'packaging'\")"
    )  # fmt: skip
    assert before + timedelta(seconds=4) <= bad.next_attempt_at <= timezone.now() + timedelta(seconds=5)
    assert errors_logged(caplog) == [("message publish failed", missing)]


@pytest.mark.django_db
def test_a_message_whose_publish_fails_at_its_last_attempt_is_abandoned(quiet_broker, settings, client, caplog):
    row = SalesOutboxMessageFactory(
        state=OutboxState.AWAITING_ACK, attempts=settings.MESSAGING_MAX_ATTEMPTS - 1, sent_at=ago(60)
    )
    unencodable = EncodeError(TypeError("Object of type object is not JSON serializable"))
    quiet_broker.failing[str(row.id)] = unencodable
    before = scrape(client)

    result = relay_batch(app_label="sales")

    row.refresh_from_db()
    after = scrape(client)
    assert result == RelayResult(sent=0, abandoned=1, failed=0, broker_down=False)
    assert (row.state, row.attempts, row.last_error) == (
        OutboxState.ABANDONED, 20, "EncodeError(TypeError('Object of type object is not JSON serializable'))"
    )  # fmt: skip
    assert (abandoned_counted(before, after), errors_logged(caplog)) == (1, [("message abandoned", unencodable)])


@pytest.mark.django_db
def test_a_broker_that_times_out_stops_the_batch_without_costing_an_attempt(quiet_broker):
    rows = SalesOutboxMessageFactory.create_batch(2)
    quiet_broker.failing[str(rows[0].id)] = TimeoutError("timed out")

    result = relay_batch(app_label="sales")

    assert result == RelayResult(sent=0, abandoned=0, failed=0, broker_down=True)
    assert quiet_broker.published == []
    assert set(SalesOutbox.objects.values_list("state", "attempts")) == {(OutboxState.PENDING, 0)}

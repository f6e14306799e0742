"""Acknowledgements on the producer's side: the relay takes them from the department's Redis list
(the test Redis, REDIS_URL), checks their signatures and marks their messages done in one UPDATE.
How a consumer pushes them is in test_flow.py."""

from datetime import timedelta

import pytest
import redis
from django.core.management import call_command
from django.db import OperationalError, connection
from django.db.models import QuerySet
from django.utils import timezone

from core.db import breaker
from messaging.acks import AckResult, _push, ack_list, acknowledgements_apply
from messaging.envelope import ack_sign, key_id
from messaging.models import OutboxState
from tests.factories import SalesOutboxMessageFactory
from tests.metrics import scrape
from tests.outages import closed_port

pytestmark = pytest.mark.django_db

OTHER_KEY = "a-key-the-producer-does-not-know-0123456789"


@pytest.fixture
def acks(settings):
    """The test Redis, as the consumers and the relay see it."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


def push(client, *raw: str | bytes, app_label: str = "sales") -> None:
    client.rpush(ack_list(app_label), *raw)


def awaiting(**fields):
    return SalesOutboxMessageFactory(state=OutboxState.AWAITING_ACK, attempts=1, sent_at=timezone.now(), **fields)


def test_a_batch_of_acknowledgements_is_applied_in_one_update(acks, django_assert_num_queries):
    rows = [awaiting(last_error="TimeoutError('timed out')") for _ in range(3)]
    push(acks, *(ack_sign(message_id=str(row.id), recipient="sales") for row in rows))

    with django_assert_num_queries(1):
        result = acknowledgements_apply(app_label="sales")

    assert result == AckResult(taken=3, applied=3)
    for row in rows:
        row.refresh_from_db()
        assert (row.state, row.acked_at is not None, row.last_error) == (OutboxState.DONE, True, "")
    assert acks.llen(ack_list("sales")) == 0


def test_at_most_a_batch_is_taken_at_once(acks):
    rows = [awaiting() for _ in range(3)]
    push(acks, *(ack_sign(message_id=str(row.id), recipient="sales") for row in rows))

    result = acknowledgements_apply(app_label="sales", batch_size=2)

    assert result == AckResult(taken=2, applied=2)
    assert acks.lrange(ack_list("sales"), 0, -1) == [ack_sign(message_id=str(rows[2].id), recipient="sales").encode()]


@pytest.mark.parametrize("state", [OutboxState.PENDING, OutboxState.AWAITING_ACK, OutboxState.ABANDONED])
def test_an_acknowledgement_makes_a_message_done_from_any_state(acks, state):
    # Even an abandoned one: a late acknowledgement proves it arrived after all.
    row = SalesOutboxMessageFactory(state=state)
    push(acks, ack_sign(message_id=str(row.id), recipient="sales"))

    result = acknowledgements_apply(app_label="sales")

    row.refresh_from_db()
    assert (result, row.state, row.acked_at is not None) == (AckResult(taken=1, applied=1), OutboxState.DONE, True)


def test_an_acknowledgement_of_a_message_already_done_changes_nothing(acks):
    acked_at = timezone.now() - timedelta(minutes=1)
    row = SalesOutboxMessageFactory(state=OutboxState.DONE, acked_at=acked_at)
    push(acks, ack_sign(message_id=str(row.id), recipient="sales"))

    result = acknowledgements_apply(app_label="sales")

    row.refresh_from_db()
    assert (result, row.state, row.acked_at) == (AckResult(taken=1, applied=0), OutboxState.DONE, acked_at)


def forged(row, settings) -> dict[str, str | bytes]:
    """Acknowledgements of ``row`` that must not be applied, by what is wrong with them."""
    genuine = ack_sign(message_id=str(row.id), recipient="sales")
    message_id, signed_with, signature = genuine.split(" ")
    other_message = ack_sign(message_id="0b7e4a55-0000-4000-8000-000000000001", recipient="sales")
    settings.MESSAGE_SIGNING_KEY, current = OTHER_KEY, settings.MESSAGE_SIGNING_KEY
    unknown_key = ack_sign(message_id=str(row.id), recipient="sales")
    settings.MESSAGE_SIGNING_KEY = current
    return {
        "another message's signature": f"{message_id} {signed_with} {other_message.split(' ')[2]}",
        "signed for the other department": ack_sign(message_id=str(row.id), recipient="delivery"),
        "an unknown key": unknown_key,
        "unsigned": message_id,
        "not text": b"\xff\xfe" + genuine.encode(),
        "a signature that is not ASCII": f"{message_id} {signed_with} {'é' * len(signature)}",
    }


REASONS = {
    "another message's signature": "bad signature",
    "signed for the other department": "bad signature",
    "an unknown key": "unknown signing key",
    "unsigned": "malformed: not <message id> <key id> <signature>",
    "not text": "malformed: not text",
    "a signature that is not ASCII": "bad signature",
}


@pytest.mark.parametrize("what", REASONS)
def test_a_forged_or_malformed_acknowledgement_is_dropped_and_never_applied(
    acks, settings, caplog, django_assert_num_queries, what
):
    row = awaiting()
    push(acks, forged(row, settings)[what])

    with django_assert_num_queries(0):
        result = acknowledgements_apply(app_label="sales")

    row.refresh_from_db()
    errors = [(record.getMessage(), record.reason) for record in caplog.records if record.levelname == "ERROR"]
    assert (result, row.state, row.acked_at) == (AckResult(taken=1, rejected=1), OutboxState.AWAITING_ACK, None)
    assert errors == [("acknowledgement rejected", REASONS[what])]
    assert acks.llen(ack_list("sales")) == 0


def test_an_acknowledgement_signed_with_the_old_key_is_applied_during_a_rotation(acks, settings):
    row = awaiting()
    settings.MESSAGE_SIGNING_KEY, new_key = OTHER_KEY, settings.MESSAGE_SIGNING_KEY
    signed_before_the_rotation = ack_sign(message_id=str(row.id), recipient="sales")
    settings.MESSAGE_SIGNING_KEY, settings.MESSAGE_SIGNING_OLD_KEYS = new_key, [OTHER_KEY]
    push(acks, signed_before_the_rotation)

    result = acknowledgements_apply(app_label="sales")

    row.refresh_from_db()
    assert signed_before_the_rotation.split(" ")[1] == key_id(OTHER_KEY)
    assert (result, row.state) == (AckResult(taken=1, applied=1), OutboxState.DONE)


def test_acknowledgements_are_counted_by_what_became_of_them(acks, client):
    done, awaited = SalesOutboxMessageFactory(state=OutboxState.DONE), awaiting()
    push(
        acks,
        ack_sign(message_id=str(awaited.id), recipient="sales"),
        ack_sign(message_id=str(awaited.id), recipient="sales"),  # pushed twice: the message came twice
        ack_sign(message_id=str(done.id), recipient="sales"),
        str(awaited.id),
    )
    before = scrape(client)

    acknowledgements_apply(app_label="sales")

    after = scrape(client)
    counted = {
        result: after.get(("acknowledgements_total", (("app", "sales"), ("result", result))), 0)
        - before.get(("acknowledgements_total", (("app", "sales"), ("result", result))), 0)
        for result in ("applied", "duplicate", "rejected", "lost")
    }
    assert counted == {"applied": 1, "duplicate": 2, "rejected": 1, "lost": 0}


def test_a_batch_the_database_could_not_take_goes_back_to_the_list(acks, monkeypatch):
    row = awaiting()
    genuine = ack_sign(message_id=str(row.id), recipient="sales")
    push(acks, genuine, "forged")

    def database_away(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(QuerySet, "update", database_away)
    with pytest.raises(OperationalError):
        acknowledgements_apply(app_label="sales")
    monkeypatch.undo()

    assert acks.lrange(ack_list("sales"), 0, -1) == [genuine.encode()]
    assert acknowledgements_apply(app_label="sales") == AckResult(taken=1, applied=1)


def test_with_redis_away_nothing_is_taken_and_the_relay_is_told(settings, caplog):
    row = awaiting()
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"

    result = acknowledgements_apply(app_label="sales")

    row.refresh_from_db()
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert (result, row.state, warnings) == (
        AckResult(broker_down=True), OutboxState.AWAITING_ACK, ["acknowledgements not taken"]
    )  # fmt: skip


@pytest.mark.parametrize(
    "failure",
    [OSError(9, "Bad file descriptor"), ValueError("I/O operation on closed file.")],
    ids=["socket closed", "read buffer closed"],
)
def test_a_connection_broken_mid_read_counts_as_redis_away(acks, monkeypatch, caplog, failure):
    # What redis-py raises when a connection's socket is closed under it (seen under load).
    def broken(self, *args, **kwargs):
        raise failure

    row = awaiting()
    monkeypatch.setattr(redis.Redis, "execute_command", broken)

    _push(recipient="sales", message_id=str(row.id))  # a consumer, after its commit
    result = acknowledgements_apply(app_label="sales")  # the relay

    row.refresh_from_db()
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert (result, row.state) == (AckResult(broker_down=True), OutboxState.AWAITING_ACK)
    assert warnings == ["acknowledgement not pushed", "acknowledgements not taken"]


def test_the_relay_command_applies_acknowledgements_before_sending_what_is_due(acks, broker):
    broker.deliver = False
    overdue = awaiting(next_attempt_at=timezone.now() - timedelta(seconds=1))
    push(acks, ack_sign(message_id=str(overdue.id), recipient="sales"))

    call_command("outbox_relay", "--once")

    overdue.refresh_from_db()
    assert (overdue.state, overdue.attempts, broker.published) == (OutboxState.DONE, 1, [])


@pytest.mark.django_db(transaction=True)  # no test transaction: the relay's connection as in production
def test_the_relay_survives_a_database_that_ends_its_session_mid_update_and_refuses_new_ones(acks, caplog, monkeypatch):
    row = awaiting()
    genuine = ack_sign(message_id=str(row.id), recipient="sales")
    push(acks, genuine)
    real_port = connection.settings_dict["PORT"]

    def server_shutting_down(*args, **kwargs):
        connection.connection.close()  # the server ended the session mid-statement...
        connection.settings_dict["PORT"] = str(closed_port())  # ...and accepts no new one
        raise OperationalError("terminating connection due to administrator command")

    connection.ensure_connection()
    monkeypatch.setattr(QuerySet, "update", server_shutting_down)
    try:
        call_command("outbox_relay", "--once")  # must not raise: the relay process would end
    finally:
        monkeypatch.undo()
        connection.settings_dict["PORT"] = real_port
        connection.close()
        breaker.reset()  # as its cooldown would

    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert warnings == ["outbox relay pass failed: database unavailable"]
    assert acks.lrange(ack_list("sales"), 0, -1) == [genuine.encode()]

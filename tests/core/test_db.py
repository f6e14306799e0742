"""Bounded waits on PostgreSQL (core.db): a server that stops answering costs a request seconds,
never longer, and a process that has just seen it fail stops waiting on it for a moment."""

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection

from core.db import breaker, deadline
from tests.outages import database_unreachable

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never says a word: what a frozen PostgreSQL
    looks like from outside (its kernel still completes the handshake)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@contextmanager
def frozen_backend() -> Iterator[None]:
    """This test's own PostgreSQL server process, stopped (SIGSTOP) for the block."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def timed(action) -> tuple[str, float]:
    started = time.monotonic()
    try:
        action()
    except OperationalError as exc:
        return str(exc), time.monotonic() - started
    return "no error", time.monotonic() - started


def query() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def test_sessions_carry_the_servers_timeouts(settings):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout'), current_setting('lock_timeout'),"
                       " current_setting('idle_in_transaction_session_timeout')")  # fmt: skip
        row = cursor.fetchone()

    assert settings.PROCESS_KIND == "worker"
    assert row == ("30s", "10s", "1min")


def test_a_connection_to_a_server_that_never_answers_gives_up_at_the_connect_deadline(settings):
    settings.DATABASE_TIMEOUTS = {**settings.DATABASE_TIMEOUTS, "connect": 1}
    with silent_server() as port, database_unreachable(port=port):
        error, seconds = timed(query)

    assert error == "no answer from the database within 1 s"
    assert 0.9 < seconds < 1.5


def test_a_query_to_a_frozen_server_gives_up_at_its_deadline_and_the_connection_is_replaced():
    query()
    with frozen_backend(), deadline(0.5):
        error, seconds = timed(query)
    dropped = connection.connection
    breaker.reset()  # as its cooldown would
    query()

    assert error == "no answer from the database within 0.5 s"
    assert 0.4 < seconds < 1.0
    assert dropped.closed != 0
    assert connection.connection is not dropped


def test_after_a_failure_new_work_fails_at_once_until_the_cooldown_then_one_try_goes_through():
    with database_unreachable():
        first = timed(query)
        during = timed(query)
    # The server is back, but the breaker is still open for the rest of the cooldown.
    still_open = timed(query)
    time.sleep(breaker.cooldown)
    after = timed(query)

    assert first[0].startswith("Connection refused")
    assert during[0].startswith("database unavailable; trying again in")
    assert during[1] < 0.05
    assert still_open[0].startswith("database unavailable; trying again in")
    assert after[0] == "no error"


def test_a_statement_already_sent_gets_its_answer_when_another_thread_opens_the_breaker_meanwhile():
    # A COMMIT on its way must not be abandoned because someone else found the server gone: the
    # client would report a failure for work the server did.
    answers = []

    def slow_statement() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_sleep(0.6), 42")
                answers.append(cursor.fetchone()[1])
        finally:
            connection.close()

    waiting = threading.Thread(target=slow_statement)
    waiting.start()
    time.sleep(0.2)
    breaker.trip()  # what another thread's timed-out wait does
    new_work = timed(query)
    waiting.join(5)

    assert answers == [42]
    assert new_work[0].startswith("database unavailable; trying again in")
    assert new_work[1] < 0.05

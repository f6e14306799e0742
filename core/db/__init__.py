"""Bounded waits on PostgreSQL, whatever the server does.

A server that stops answering without closing its connections (frozen, swapping, a network
that drops packets) is invisible to TCP keepalives and to ``statement_timeout``: the kernel
still acknowledges what we send, and the server-side timer runs in the process that is frozen.
libpq itself would wait forever. So every wait on the database goes through
``wait_with_deadline`` (psycopg2's wait callback, set by ``core.db.backend``): no connection
attempt or query waits longer than its deadline, after which the connection is dropped and
``DatabaseUnavailable`` (a ``psycopg2.OperationalError``, so Django raises its own
``OperationalError``) is raised.

A process that has just seen the database fail that way opens a breaker for a moment: new
connection attempts fail at once instead of each waiting for its own deadline, so a web
process answers 503 in milliseconds and keeps its threads free (docs: README, Operating it).
"""

import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
from psycopg2 import extensions


class DatabaseUnavailable(psycopg2.OperationalError):
    """The database did not answer within the deadline, or has just failed to (breaker open)."""


class Breaker:
    """After a connection-level failure, database work fails at once for ``cooldown`` seconds;
    then the next caller tries the server again (the others keep failing fast meanwhile), and its
    success closes the breaker. Waits already under way when it trips give up too. Per process,
    shared by its threads."""

    def __init__(self, cooldown: float) -> None:
        self.cooldown = cooldown
        self._open_until = 0.0
        self._tripped_at = 0.0
        self._trying: int | None = None  # the thread that tries the server after a cooldown

    def trip(self) -> None:
        self._tripped_at = time.monotonic()
        self._open_until = self._tripped_at + self.cooldown
        self._trying = None

    def reset(self) -> None:
        self._open_until = 0.0
        self._trying = None

    @property
    def is_open(self) -> bool:
        return bool(self._open_until)

    def check(self) -> None:
        """Raise while the breaker is open; once the cooldown is over, let this caller try."""
        if not self._open_until or self._trying == threading.get_ident():
            return
        now = time.monotonic()
        if now < self._open_until:
            raise DatabaseUnavailable(f"database unavailable; trying again in {self._open_until - now:.1f} s")
        self._open_until = now + self.cooldown  # this thread is the one that tries
        self._trying = threading.get_ident()

    def tripped_since(self, moment: float) -> bool:
        return self._tripped_at > moment


breaker = Breaker(cooldown=2.0)
_deadline = threading.local()
DEFAULT_DEADLINE = 35.0  # seconds; the backend sets it from settings.DATABASE_TIMEOUTS
# A wait looks every so often whether another thread has found the database gone meanwhile.
_SLICE = 0.25


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Waits on the database in this thread, inside the block, last at most ``seconds`` each."""
    previous = getattr(_deadline, "seconds", None)
    _deadline.seconds = seconds
    try:
        yield
    finally:
        _deadline.seconds = previous


def wait_with_deadline(conn: extensions.connection) -> None:
    """psycopg2 wait callback: poll the connection until its operation is done, for at most the
    deadline. Raising here makes psycopg2 close the connection (it is never reused)."""
    breaker.check()
    seconds = getattr(_deadline, "seconds", None) or DEFAULT_DEADLINE
    started = time.monotonic()
    give_up_at = started + seconds
    poller = select.poll()
    registered = False
    while True:
        state = conn.poll()
        if state == extensions.POLL_OK:
            if breaker.is_open:  # this was the try after a cooldown, and the server answered
                breaker.reset()
            return
        if state == extensions.POLL_READ:
            events = select.POLLIN
        elif state == extensions.POLL_WRITE:
            events = select.POLLOUT
        else:
            raise psycopg2.OperationalError(f"unexpected poll state {state!r}")
        if registered:
            poller.modify(conn.fileno(), events)
        else:
            poller.register(conn.fileno(), events)
            registered = True
        while True:
            left = give_up_at - time.monotonic()
            if left <= 0:
                breaker.trip()
                raise DatabaseUnavailable(f"no answer from the database within {seconds:g} s")
            if poller.poll(min(left, _SLICE) * 1000):
                break
            if breaker.tripped_since(started):
                raise DatabaseUnavailable("the database stopped answering another connection of this process")

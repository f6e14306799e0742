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
connections and new statements fail at once instead of each waiting for its own deadline, so
a web process answers 503 in milliseconds and keeps its threads free (docs/operations.md, docs/adr/0006).
The breaker is only ever checked before anything is sent: a statement already on its way (a
COMMIT above all) is never abandoned because another thread found the server gone, only at its
own deadline, so that "failed" means failed as often as the server allows.
See docs/adr/0006-bounded-database-waits-and-a-breaker.md and docs/operations.md."""

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
    """After a connection-level failure, new database work fails at once for ``cooldown``
    seconds; then one thread tries the server again (the others keep failing fast meanwhile),
    and its success closes the breaker. Per process, shared by its threads."""

    def __init__(self, cooldown: float) -> None:
        self.cooldown = cooldown
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._trying: int | None = None  # the thread that tries the server after a cooldown

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + self.cooldown
            self._trying = None

    def reset(self) -> None:
        if self._open_until:
            with self._lock:
                self._open_until = 0.0
                self._trying = None

    def check(self) -> None:
        """Raise while the breaker is open; once the cooldown is over, let one thread try."""
        if not self._open_until:  # closed: the one check on the hot path, without the lock
            return
        with self._lock:
            me = threading.get_ident()
            if not self._open_until or self._trying == me:
                return
            now = time.monotonic()
            if now < self._open_until:
                raise DatabaseUnavailable(f"database unavailable; trying again in {self._open_until - now:.1f} s")
            self._open_until = now + self.cooldown
            self._trying = me


breaker = Breaker(cooldown=2.0)
_deadline = threading.local()
DEFAULT_DEADLINE = 35.0  # seconds; the backend sets it from settings.DATABASE_TIMEOUTS


@contextmanager
def deadline(seconds: float, *, trips: bool = True) -> Iterator[None]:
    """Waits on the database in this thread, inside the block, last at most ``seconds`` each.
    With ``trips`` off, running out of time does not open the breaker (a probe's own patience
    says nothing about the server the other threads use)."""
    previous = getattr(_deadline, "settings", None)
    _deadline.settings = (seconds, trips)
    try:
        yield
    finally:
        _deadline.settings = previous


def wait_with_deadline(conn: extensions.connection) -> None:
    """psycopg2 wait callback: poll the connection until its operation is done, for at most the
    deadline. Raising here makes psycopg2 close the connection (it is never reused)."""
    seconds, trips = getattr(_deadline, "settings", None) or (DEFAULT_DEADLINE, True)
    give_up_at = time.monotonic() + seconds
    poller = select.poll()
    registered = False
    while True:
        state = conn.poll()
        if state == extensions.POLL_OK:
            breaker.reset()  # the server answers
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
        left = give_up_at - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            if trips:
                breaker.trip()
            raise DatabaseUnavailable(f"no answer from the database within {seconds:g} s")

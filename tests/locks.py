"""Making two transactions meet on a row lock, against real PostgreSQL."""

import time

from django.db import connection


def wait_until_another_transaction_waits_for_this_one(timeout: float = 10.0) -> None:
    """Return once some other backend is waiting for a lock this connection's transaction holds.

    pg_blocking_pids reads the lock manager at each call (pg_stat_activity would be a snapshot
    taken once per transaction). Raises AssertionError if nobody waits within ``timeout``."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.005)
    raise AssertionError(f"no transaction waited for this one within {timeout} s")


def in_another_connection(function, **kwargs):
    """``function(**kwargs)`` on a connection of its own (call it in another thread), closed after."""
    try:
        return function(**kwargs)
    finally:
        connection.close()

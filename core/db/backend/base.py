"""Django's PostgreSQL backend with bounded waits (see ``core.db``): every connection attempt
and query has a client-side deadline, and while the breaker is open new connections and new
statements fail at once."""

from typing import Any

import psycopg2
from django.conf import settings
from django.db.backends.postgresql import base
from psycopg2 import extensions

import core.db
from core.db import breaker, deadline, wait_with_deadline

# Process-wide: psycopg2 now waits for the server through our callback (its "green" mode),
# which only this backend's connections use. The server's statement_timeout answers first for a
# slow query; our deadline, a second later, only for a server that cannot answer at all. (In
# this mode libpq ignores its own connect_timeout: the connect deadline below is what bounds it.)
extensions.set_wait_callback(wait_with_deadline)
core.db.DEFAULT_DEADLINE = (settings.DATABASE_TIMEOUTS["statement"] or 3600) + 1


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        breaker.check()
        try:
            with deadline(settings.DATABASE_TIMEOUTS["connect"]):
                return super().get_new_connection(conn_params)
        except psycopg2.OperationalError:
            breaker.trip()
            raise

    def ensure_connection(self) -> None:
        # A connection psycopg2 closed after a timed-out wait is replaced at its next use
        # (outside a transaction, whose work is lost anyway), not only at the next request.
        if self.connection is not None and self.connection.closed and not self.in_atomic_block:
            self.close()
        super().ensure_connection()

    def create_cursor(self, name: str | None = None) -> Any:
        # Every statement Django sends starts with a new cursor: the breaker is checked here,
        # before anything is sent (Django turns the error into its own OperationalError).
        breaker.check()
        return super().create_cursor(name)

    def is_usable(self) -> bool:
        # The check of a kept connection before its next use (CONN_HEALTH_CHECKS) is a
        # "SELECT 1": not while the breaker is open, and a server that takes longer than a
        # connection attempt to answer it is not one to give a request to.
        try:
            breaker.check()
        except core.db.DatabaseUnavailable:
            return False
        with deadline(settings.DATABASE_TIMEOUTS["connect"]):
            return super().is_usable()

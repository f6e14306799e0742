"""Making the database really unavailable to this test process, for a while."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def database_unreachable(port: int | None = None) -> Iterator[None]:
    """Within the block this process's connection goes to ``port`` (by default one where nothing
    listens: every query fails as it would with the server down). Afterwards it reconnects to
    the real server."""
    real_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(port or closed_port())
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port

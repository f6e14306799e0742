"""Requests handed to the project's WSGI application as a WSGI server (gunicorn) hands them over.

Django's test client builds the request object itself, so it never runs what the WSGI handler
does before the middleware (config.wsgi's request class, for one). Anything the application
raises here instead of answering, a server would have answered with a 500 of its own.
"""

import io
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from config.wsgi import application


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: dict[str, str]
    content: bytes


def wsgi_call(
    method: str, path: str, *, query: str = "", body: bytes = b"", content_type: str = "", headers=None
) -> Answer:
    """``path`` percent-encoded, as on the request line; ``headers`` latin-1 text (PEP 3333)."""
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **{"HTTP_" + name.upper().replace("-", "_"): value for name, value in (headers or {}).items()},
    }
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started.update(status_code=int(status.split()[0]), headers=dict(response_headers))

    result = application(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        result.close()
    return Answer(content=content, **started)


@contextmanager
def connection_kept():
    """Called as a WSGI application, Django closes old database connections around each
    request, and with them the test's transaction; Django's own test client skips it too."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)

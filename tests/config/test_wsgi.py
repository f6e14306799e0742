"""What the WSGI handler does before any middleware (config/wsgi.py), through the application as
gunicorn calls it."""

import json
import os
import subprocess
import sys

import pytest

from tests.wsgi_client import connection_kept, wsgi_call

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("charset", ["zlib", "base64", "a\x00"])
def test_a_charset_that_is_no_text_encoding_is_ignored_not_a_500(charset):
    # Django builds the request before any middleware; with such a charset it raised right there.
    with connection_kept():
        answer = wsgi_call(
            "POST",
            "/api/auth/token/",
            query="next=1",
            body=b'{"username": "ada", "password": "x"}',
            content_type=f"application/json; charset={charset}",
        )

    assert (answer.status_code, json.loads(answer.content)) == (
        401,
        {"detail": "No active account found with the given credentials"},
    )


@pytest.mark.parametrize("entry_point", ["config.wsgi", "config.asgi"])
def test_each_web_entry_point_makes_a_web_process(entry_point):
    """Its database waits are the web's (settings.DATABASE_TIMEOUTS), not a worker's."""
    environ = {name: value for name, value in os.environ.items() if name != "DJANGO_PROCESS_KIND"}
    script = f"import {entry_point}; from django.conf import settings; print(settings.PROCESS_KIND)"

    ran = subprocess.run([sys.executable, "-c", script], env=environ, capture_output=True, text=True, timeout=60)

    assert (ran.returncode, ran.stdout.strip()) == (0, "web")

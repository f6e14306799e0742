"""What the web process logs for a request: the app's one line (core.observability), and no
second one from gunicorn's access log."""

import json
import urllib.request

import pytest

from tests.config.test_settings import PRODUCTION
from tests.config.test_web_bind import running_web
from tests.integration.stack import free_port, wait_until

pytestmark = pytest.mark.integration  # starts gunicorn


def test_a_request_is_logged_once_by_the_app_and_not_by_gunicorn(tmp_path):
    # Given the Procfile's `web`, started as a platform would, with config/gunicorn.py
    port = free_port()
    log = tmp_path / "web.log"
    with running_web({**PRODUCTION, "PORT": str(port), "WEB_BIND_ADDRESS": "127.0.0.1"}, log):
        wait_until(lambda: "Booting worker" in log.read_text(), timeout=30, interval=0.1, what="gunicorn up")

        # When one request is answered, and gunicorn stops (its worker finishes the request first)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=15) as response:
            status = response.status

    # Then the request has one line, the app's, and gunicorn wrote no access-log line
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    request_lines = [
        (record["logger"], record.get("path"))
        for record in records
        if record["logger"] in ("config.requests", "gunicorn.access")
    ]
    assert status == 200
    assert request_lines == [("config.requests", "/healthz")]

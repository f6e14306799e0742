"""Beat, started while the database is away, waits for it (core/beat.py) and still stops at once
when its supervisor asks."""

import contextlib
import os
import signal

import pytest

from tests.integration.stack import on_test_database, wait_until
from tests.outages import closed_port

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_beat_waiting_for_the_database_at_start_stops_on_sigterm(tmp_path):
    nowhere = f"postgres://postgres@127.0.0.1:{closed_port()}/nowhere"
    stack = on_test_database(logs=tmp_path, extra_env={"DATABASE_URL": nowhere})
    try:
        stack.start_redis()
        stack.start_beat()
        log = tmp_path / "beat.log"
        wait_until(lambda: log.read_text().count("database unavailable at start") >= 2, timeout=30, what="beat waits")
        beat = stack.processes["beat"]

        os.killpg(beat.pid, signal.SIGTERM)

        assert beat.wait(timeout=10) == 0  # before: SIGTERM was swallowed, and beat waited on
        assert "beat: stopped while waiting for the database" in log.read_text()
    finally:
        if "beat" in stack.processes:  # one that did not stop must not outlive the test
            with contextlib.suppress(ProcessLookupError):
                os.killpg(stack.processes["beat"].pid, signal.SIGKILL)
        stack.stop()

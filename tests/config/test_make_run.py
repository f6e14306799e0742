"""`make run` (scripts/run.sh) as a developer starts it: production settings on a SQLite file, the
web process on loopback only, and demo log-ins whose passwords nobody could have read before."""

import json
import os
import re
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.integration.stack import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


@pytest.fixture
def make_run(tmp_path):
    """scripts/run.sh on a throwaway SQLite file and the test Redis; yields its output so far."""
    port = free_port()
    log = tmp_path / "run.log"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "MESSAGE_SIGNING_KEY": settings.MESSAGE_SIGNING_KEY,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    with log.open("w") as out:
        run = subprocess.Popen(
            ["scripts/run.sh"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until(lambda: "Listening at: " in log.read_text(), timeout=120, interval=0.2, what="make run's web")
        yield port, log.read_text()
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(timeout=60)


def token(port: int, username: str, password: str) -> int:
    body = json.dumps({"username": username, "password": password}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/auth/token/", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_make_run_listens_on_loopback_with_passwords_printed_once(make_run):
    port, output = make_run

    listening = re.findall(r"Listening at: http://(\S+) ", output)
    printed = dict(re.findall(r"(customer|clerk|staff) / (\S+)$", output, re.MULTILINE))
    assert listening == [f"127.0.0.1:{port}"]
    assert sorted(printed) == ["clerk", "customer", "staff"]
    assert (token(port, "staff", printed["staff"]), token(port, "staff", "demo-staff-2026")) == (200, 401)


def test_make_run_starts_a_process_again_when_it_dies(make_run, tmp_path):
    log = tmp_path / "run.log"
    [pid] = re.findall(r"spawned: 'worker-sales' with pid (\d+)", log.read_text())

    os.kill(int(pid), signal.SIGKILL)
    wait_until(
        lambda: len(re.findall(r"spawned: 'worker-sales' with pid (\d+)", log.read_text())) == 2,
        timeout=30,
        what="worker-sales started again",
    )

    output = log.read_text()
    assert "WARN exited: worker-sales (terminated by SIGKILL; not expected)" in output
    [_, again] = re.findall(r"spawned: 'worker-sales' with pid (\d+)", output)
    assert again != pid
    os.kill(int(again), 0)  # running

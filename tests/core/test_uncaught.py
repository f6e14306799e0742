"""Whatever ends a process or a thread with an exception, and every warning, is one JSON log
record (core.apps), in every process: never loose traceback lines on stderr."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def records(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines()]


def test_an_uncaught_exception_is_one_json_record_with_its_traceback():
    result = run("raise ValueError('boom')")

    [record] = records(result.stderr)
    assert result.returncode == 1
    assert (record["level"], record["logger"], record["message"]) == (
        "CRITICAL",
        "core.uncaught",
        "uncaught exception: the process ends",
    )
    assert record["exc_info"].startswith("Traceback (most recent call last):")
    assert record["exc_info"].endswith("ValueError: boom")


def test_an_exception_that_ends_a_thread_is_one_json_record():
    result = run("import threading; t = threading.Thread(target=lambda: 1 / 0, name='t1'); t.start(); t.join()")

    [record] = records(result.stderr)
    assert (result.returncode, record["message"], record["thread_name"]) == (0, "uncaught exception in a thread", "t1")
    assert record["exc_info"].endswith("ZeroDivisionError: division by zero")


def test_a_warning_is_one_json_record():
    result = run("import warnings; warnings.warn('careful')")

    [record] = records(result.stderr)
    assert (record["level"], record["logger"]) == ("WARNING", "py.warnings")
    assert "UserWarning: careful" in record["message"]

"""Task time limits in the solo pool (config/celery.py): Celery enforces them only in its prefork
and gevent pools, and our workers run the solo pool."""

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from config.celery import _time_limits

ROOT = Path(__file__).resolve().parents[2]


def a_task(soft: float | None, hard: float | None) -> SimpleNamespace:
    return SimpleNamespace(soft_time_limit=soft, time_limit=hard)


def test_a_task_past_its_soft_limit_is_interrupted():
    started = time.monotonic()
    _time_limits.arm(a_task(soft=0.2, hard=None))
    try:
        with pytest.raises(SoftTimeLimitExceeded):
            time.sleep(5)
    finally:
        _time_limits.disarm()

    assert 0.15 < time.monotonic() - started < 1.0


def test_a_task_that_finishes_in_time_is_not_interrupted_later():
    _time_limits.arm(a_task(soft=0.2, hard=None))
    _time_limits.disarm()

    time.sleep(0.4)  # no SoftTimeLimitExceeded here


def test_a_task_past_its_hard_limit_ends_the_worker_process():
    # In a process of its own: the task ignores the soft limit (as code stuck in C would).
    code = (
        "import django, signal, time; django.setup(); "
        "from types import SimpleNamespace; from config.celery import _time_limits; "
        "_time_limits.arm(SimpleNamespace(soft_time_limit=None, time_limit=1)); time.sleep(10)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    started = time.monotonic()

    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)

    assert result.returncode == 70
    assert '"message": "task exceeded its hard time limit; the worker exits to be restarted"' in result.stderr
    assert time.monotonic() - started < 8

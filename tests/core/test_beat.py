"""Celery beat lives through a database outage (core/beat.py)."""

from datetime import timedelta

import pytest
from django.conf import settings

from config.celery import app
from core.beat import OutageTolerantScheduler
from core.db import breaker
from tests.outages import database_unreachable

pytestmark = pytest.mark.django_db(transaction=True)

SCHEDULE = sorted(settings.CELERY_BEAT_SCHEDULE)


def test_beat_keeps_its_schedule_while_the_database_is_away_and_reads_it_again_after():
    scheduler = OutageTolerantScheduler(app=app)
    before = sorted(scheduler.schedule)
    scheduler._last_full_sync -= timedelta(minutes=10)  # the library's periodic full read is due

    with database_unreachable():
        during = sorted(scheduler.schedule)
    breaker.reset()  # as its cooldown would
    after = sorted(scheduler.schedule)

    assert before == during == after == SCHEDULE


def test_beat_started_while_the_database_is_away_waits_for_it(monkeypatch):
    pauses = []
    outage = database_unreachable()
    outage.__enter__()

    def sleep(seconds: float) -> None:  # the database comes back during beat's second pause
        pauses.append(seconds)
        if len(pauses) == 2:
            outage.__exit__(None, None, None)
            breaker.reset()  # as its cooldown would

    monkeypatch.setattr("core.beat.time.sleep", sleep)

    scheduler = OutageTolerantScheduler(app=app)

    assert pauses == [1.0, 2.0]
    assert sorted(scheduler.schedule) == SCHEDULE

"""Celery beat's scheduler: django-celery-beat's DatabaseScheduler, made to live through a
database outage. The library catches database errors when it checks for changes and when it
saves run times, but not when it reads the schedule (at start, after a change, and every five
minutes), so an outage at one of those moments ended the process. Here beat keeps the schedule
it has and reads it again once the database answers. See docs/adr/0008-beat-outage-tolerant-scheduler.md."""

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError, close_old_connections
from django_celery_beat.schedulers import DatabaseScheduler

logger = logging.getLogger(__name__)


@contextmanager
def _stoppable() -> Iterator[None]:
    """SIGTERM and SIGINT end beat at once while it waits for the database at start. Celery's own
    handler saves the schedule first, through the scheduler that is being made: it would make a
    second one, which would wait for the database too, and beat would never stop. There is
    nothing to save yet."""
    if threading.current_thread() is not threading.main_thread():  # signals go to the main thread
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        logger.info("beat: stopped while waiting for the database", extra={"signal": signal.Signals(signum).name})
        raise SystemExit(0)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class OutageTolerantScheduler(DatabaseScheduler):
    def setup_schedule(self) -> None:
        # The entries of settings.CELERY_BEAT_SCHEDULE are written to the database here: wait
        # for it rather than start without them.
        pause = 1.0
        with _stoppable():
            while True:
                try:
                    super().setup_schedule()
                    return
                except DatabaseError:
                    logger.warning("beat: database unavailable at start; trying again", exc_info=True)
                    close_old_connections()
                    self._initial_read = True
                    time.sleep(pause)
                    pause = min(pause * 2, 30.0)

    @property
    def schedule(self) -> dict[str, Any]:
        try:
            return super().schedule
        except DatabaseError:
            close_old_connections()
            if self._schedule is None:  # nothing read yet (at start): setup_schedule waits
                self._initial_read = True
                raise
            logger.warning("beat: database unavailable; keeping the schedule it had", exc_info=True)
            self._heap: list[Any] = []  # the heap is rebuilt from the schedule kept
            self._heap_invalidated = True
            return self._schedule

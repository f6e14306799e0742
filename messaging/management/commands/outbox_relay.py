import logging
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from core.errors import DATABASE_ERRORS
from messaging.outbox import relay_batch
from messaging.registry import departments

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Send every department's due outbox messages, in batches, until stopped (SIGTERM)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="one pass over every outbox, then exit")
        parser.add_argument("--interval", type=float, default=0.2, help="seconds to wait when idle")
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args: Any, once: bool, interval: float, batch_size: int, **options: Any) -> None:
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        logger.info("outbox relay started", extra={"apps": [each.label for each in departments()]})
        pause = interval
        while not stopping:
            busy = broker_down = False
            try:
                for each in departments():
                    result = relay_batch(app_label=each.label, batch_size=batch_size)
                    busy |= result.sent + result.abandoned >= batch_size
                    broker_down |= result.broker_down
            except DATABASE_ERRORS as exc:  # the database is away: keep going, it will come back
                logger.warning("outbox relay pass failed: database unavailable", extra={"error": repr(exc)[:200]})
                close_old_connections()
                broker_down = True
            except Exception:  # anything else is a fault to see whole; keep going all the same
                logger.exception("outbox relay pass failed")
                close_old_connections()
                broker_down = True
            if once:
                break
            # A full batch: go on at once. Broker or database down: back off up to 2 s.
            pause = min(pause * 2, 2.0) if broker_down else interval
            if not busy:
                time.sleep(pause)
        logger.info("outbox relay stopped")

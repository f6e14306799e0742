import logging
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import connections

from core.errors import DATABASE_ERRORS
from messaging.acks import acknowledgements_apply
from messaging.outbox import relay_batch
from messaging.registry import departments

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Apply every department's acknowledgements and send its due outbox messages, in batches,"
        " until stopped (SIGTERM)."
    )

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
                    # Acknowledgements first: a message acknowledged meanwhile is not sent again.
                    acks = acknowledgements_apply(app_label=each.label, batch_size=batch_size)
                    result = relay_batch(app_label=each.label, batch_size=batch_size)
                    busy |= acks.taken >= batch_size or result.sent + result.abandoned >= batch_size
                    broker_down |= acks.broker_down or result.broker_down
            except DATABASE_ERRORS as exc:  # the database is away: keep going, it will come back
                logger.warning("outbox relay pass failed: database unavailable", extra={"error": repr(exc)[:200]})
                # Dropped, not checked: close_old_connections() would connect again at once to
                # check it, and raise here while the server still refuses.
                connections.close_all()
                broker_down = True
            except Exception:  # anything else is a fault to see whole; keep going all the same
                logger.exception("outbox relay pass failed")
                connections.close_all()
                broker_down = True
            if once:
                break
            # A full batch: go on at once. Broker or database down: back off up to 2 s. Otherwise
            # a pass every `interval`, which is also the longest an acknowledgement waits (0.2 s
            # by default; a message is sent again after MESSAGING_ACK_TIMEOUT, 5 s).
            pause = min(pause * 2, 2.0) if broker_down else interval
            if not busy:
                time.sleep(pause)
        logger.info("outbox relay stopped")

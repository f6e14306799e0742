"""The transactional outbox: a message is written in the transaction of the change it reports,
sent right after commit (the fast path) and, until its consumer acknowledges it, sent again by
the relay with exponential backoff and jitter, a bounded number of times, then abandoned.

A publish that fails because the broker is away costs no attempt: the message waits for the
broker, however long (outbox_oldest_pending_age_seconds shows the wait). One that fails for any
other reason (a module missing, a message that cannot be encoded) counts as an attempt, so a
fault that never heals ends in an abandoned message instead of a message pending for ever. See docs/messaging.md."""

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import Error as DatabaseFailure
from django.db import transaction
from django.utils import timezone

from core import metrics
from core.context import current_correlation_id
from messaging import transport
from messaging.envelope import Contract, Envelope
from messaging.models import AbstractOutboxMessage, OutboxState
from messaging.registry import department

logger = logging.getLogger(__name__)


def outbox_write(*, app_label: str, message: Contract, correlation_id: str | None = None) -> AbstractOutboxMessage:
    """Write ``message`` to ``app_label``'s outbox.

    Call inside the transaction that made the change the message reports: the message then
    exists if and only if the change does. It is sent once that transaction commits.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Write to the outbox inside the transaction that makes the change.")
    envelope = Envelope(
        type=message.TYPE,
        version=message.VERSION,
        source=app_label,
        payload=message.to_dict(),
        correlation_id=correlation_id or current_correlation_id.get() or str(uuid.uuid4()),
    )
    # Written as sent: the fast path sends it right after commit, and this saves a write per
    # message. If that send fails, send_now hands the message to the relay at once; if the
    # process dies before sending, the relay sends it when its acknowledgement is overdue (and
    # a lost acknowledgement costs nothing: its message is sent again, and acknowledged again).
    row = department(app_label).outbox.objects.create(
        id=envelope.id,
        type=envelope.type,
        correlation_id=envelope.correlation_id,
        envelope=envelope.signed(),
        **_sent_fields(attempts=0, now=timezone.now()),
    )
    transaction.on_commit(partial(send_now, app_label=app_label, row=row))
    return row


def send_now(*, app_label: str, row: AbstractOutboxMessage) -> bool:
    """The fast path: send a just-committed message at once. On failure the relay sends it."""
    try:
        transport.publish(row.envelope)
    except Exception as exc:
        metrics.MESSAGES_PUBLISHED.labels(app=app_label, type=row.type, path="fast", result="failed").inc()
        now = timezone.now()
        if transport.broker_away(exc):
            logger.warning(
                "message publish failed", extra={"message_id": str(row.id), "type": row.type, "error": repr(exc)}
            )
            # No attempt spent: the relay sends it as soon as the broker answers again.
            failed = {"state": OutboxState.PENDING, "attempts": 0, "next_attempt_at": now}
        else:  # the row was written as its first attempt, and that attempt failed
            failed = _failed_attempt(app_label=app_label, row=row, attempts=row.attempts, error=exc, now=now)
        try:  # the state it was written in, unless an acknowledgement came meanwhile
            department(app_label).outbox.objects.filter(pk=row.pk, state=row.state).update(
                sent_at=None, last_error=repr(exc)[:1000], **failed
            )
        except DatabaseFailure:  # then the relay sends it when its acknowledgement is overdue
            logger.exception("message left to the relay", extra={"message_id": str(row.id)})
        return False
    metrics.MESSAGES_PUBLISHED.labels(app=app_label, type=row.type, path="fast", result="ok").inc()
    logger.info("message published", extra={"app": app_label, "message_id": str(row.id), "type": row.type})
    return True


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter before attempt ``attempts + 1``, at most the cap."""
    base = settings.MESSAGING_ACK_TIMEOUT.total_seconds()
    cap = settings.MESSAGING_RETRY_MAX_DELAY.total_seconds()
    delay = min(cap, base * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=delay * random.uniform(0.8, 1.0))


def _sent_fields(*, attempts: int, now: datetime) -> dict[str, Any]:
    """The fields of a message just sent for the (attempts + 1)th time."""
    attempts += 1
    return {
        "state": OutboxState.AWAITING_ACK,
        "attempts": attempts,
        "sent_at": now,
        "next_attempt_at": now + retry_delay(attempts),
        "last_error": "",
    }


def _failed_attempt(
    *, app_label: str, row: AbstractOutboxMessage, attempts: int, error: Exception, now: datetime
) -> dict[str, Any]:
    """The fields of a message whose ``attempts``th publish failed, the broker being there: it
    is tried again after the backoff or, that being its last attempt, it is abandoned."""
    if attempts >= settings.MESSAGING_MAX_ATTEMPTS:
        return _abandon(app_label=app_label, row=row, attempts=attempts, now=now, error=error)
    logger.error(
        "message publish failed",
        extra={"app": app_label, "message_id": str(row.id), "type": row.type, "attempts": attempts},
        exc_info=error,
    )
    return {"state": OutboxState.PENDING, "attempts": attempts, "next_attempt_at": now + retry_delay(attempts)}


def _abandon(
    *, app_label: str, row: AbstractOutboxMessage, attempts: int, now: datetime, error: Exception | None = None
) -> dict[str, Any]:
    """The fields of a message given up after its ``attempts``th attempt, whose publish failed
    (``error``) or which was never acknowledged; counted and logged. Staff re-drive it."""
    metrics.OUTBOX_ABANDONED.labels(app=app_label).inc()
    logger.error(
        "message abandoned",
        extra={"app": app_label, "message_id": str(row.id), "type": row.type, "attempts": attempts},
        exc_info=error,
    )
    return {"state": OutboxState.ABANDONED, "attempts": attempts, "next_attempt_at": now}


@dataclass(frozen=True)
class RelayResult:
    sent: int = 0
    abandoned: int = 0
    failed: int = 0  # publishes that failed with the broker there (each one an attempt)
    broker_down: bool = False


def relay_batch(*, app_label: str, batch_size: int = 200) -> RelayResult:
    """Send one batch of ``app_label``'s due messages: never sent, or sent and not acknowledged
    in time. Rows are claimed with SELECT … FOR UPDATE SKIP LOCKED, so relays run side by side."""
    outbox = department(app_label).outbox
    now = timezone.now()
    sent = abandoned = failed = postponed = 0
    broker_down = False
    busy_queues: set[str] | None = None  # asked of the broker once, and only if needed
    with transaction.atomic():
        rows = list(
            outbox.objects.select_for_update(skip_locked=True)
            .filter(state__in=[OutboxState.PENDING, OutboxState.AWAITING_ACK], next_attempt_at__lte=now)
            .order_by("next_attempt_at")[:batch_size]
        )
        changed = []
        for row in rows:
            if row.attempts >= settings.MESSAGING_MAX_ATTEMPTS:
                _set_fields(row, _abandon(app_label=app_label, row=row, attempts=row.attempts, now=now))
                row.last_error = f"not acknowledged after {row.attempts} attempts"
                changed.append(row)
                abandoned += 1
                continue
            try:
                if _may_wait_for_a_busy_queue(row, now):
                    if busy_queues is None:
                        busy_queues = transport.busy_queues()
                    if transport.queue_for(row.envelope) in busy_queues:
                        # Its consumers are behind: the message most likely waits in their queue,
                        # and a copy would only lengthen it. Look again later.
                        row.next_attempt_at = now + retry_delay(row.attempts)
                        changed.append(row)
                        postponed += 1
                        continue
                transport.publish(row.envelope)
            except Exception as exc:
                metrics.MESSAGES_PUBLISHED.labels(app=app_label, type=row.type, path="relay", result="failed").inc()
                row.last_error = repr(exc)[:1000]
                changed.append(row)
                if transport.broker_away(exc):  # stop here, the rest waits for the broker too
                    broker_down = True
                    logger.warning("relay publish failed", extra={"message_id": str(row.id), "error": repr(exc)})
                    break
                # This message's fault, or the code's: it costs this message an attempt, and the
                # others are still sent.
                _set_fields(
                    row, _failed_attempt(app_label=app_label, row=row, attempts=row.attempts + 1, error=exc, now=now)
                )
                if row.state == OutboxState.ABANDONED:
                    abandoned += 1
                else:
                    failed += 1
                continue
            metrics.MESSAGES_PUBLISHED.labels(app=app_label, type=row.type, path="relay", result="ok").inc()
            if row.attempts:  # sent before, never acknowledged
                metrics.MESSAGE_RETRIES.labels(app=app_label).inc()
            _set_fields(row, _sent_fields(attempts=row.attempts, now=now))
            changed.append(row)
            sent += 1
        outbox.objects.bulk_update(
            changed, ["state", "attempts", "sent_at", "next_attempt_at", "last_error"], batch_size=500
        )
    if sent or abandoned or failed or postponed:
        logger.info(
            "relay batch",
            extra={"app": app_label, "sent": sent, "abandoned": abandoned, "failed": failed, "postponed": postponed},
        )
    return RelayResult(sent=sent, abandoned=abandoned, failed=failed, broker_down=broker_down)


def _set_fields(row: AbstractOutboxMessage, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        setattr(row, name, value)


def _may_wait_for_a_busy_queue(row: AbstractOutboxMessage, now: datetime) -> bool:
    """A sent, unacknowledged message young enough to wait for a busy consumer rather than be
    sent again; past MESSAGING_RESEND_PATIENCE it is sent again whatever the queue."""
    return row.attempts > 0 and row.sent_at is not None and now - row.created_at < settings.MESSAGING_RESEND_PATIENCE


def outbox_redrive(*, app_label: str, ids: list[Any]) -> int:
    """Send abandoned messages again, from a fresh count of attempts."""
    count = (
        department(app_label)
        .outbox.objects.filter(pk__in=ids, state=OutboxState.ABANDONED)
        .update(state=OutboxState.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error="")
    )
    logger.info("outbox re-driven", extra={"app": app_label, "count": count})
    return count


def messages_purge(*, app_label: str, now: datetime | None = None) -> tuple[int, int]:
    """Delete done outbox rows and inbox rows older than MESSAGING_RETENTION.

    The inbox must remember a message for longer than its producer may still send it again
    (MESSAGING_MAX_ATTEMPTS with backoff: minutes), which the retention of days is far above.
    """
    cutoff = (now or timezone.now()) - settings.MESSAGING_RETENTION
    sent, _ = department(app_label).outbox.objects.filter(state=OutboxState.DONE, created_at__lt=cutoff).delete()
    seen, _ = department(app_label).inbox.objects.filter(received_at__lt=cutoff).delete()
    logger.info("messages purged", extra={"app": app_label, "outbox": sent, "inbox": seen})
    return sent, seen

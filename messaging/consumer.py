"""Consuming a message: verify it, apply it once, acknowledge it.

Delivery is at-least-once (the producer sends until acknowledged, the broker may redeliver), so
the consumer records each message id in its inbox in the same transaction as the message's
effect: a duplicate finds the id and changes nothing. Effects therefore happen exactly once.
Every message, first copy or duplicate, is acknowledged once that transaction commits
(messaging.acks), so the producer stops sending it. See docs/messaging.md."""

import logging
import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from core import metrics
from core.context import current_correlation_id
from messaging.acks import acknowledge_on_commit
from messaging.envelope import Contract, Envelope, InvalidMessage, verify
from messaging.models import AbstractDeadLetter, DeadLetterState
from messaging.registry import department
from messaging.transport import task_named

logger = logging.getLogger(__name__)


C = TypeVar("C", bound=Contract)


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


def consume(
    raw: Any,
    *,
    app_label: str,
    task_name: str,
    contract: type[C],
    apply: Callable[[C, Envelope], None],
) -> Outcome:
    """Verify ``raw``, read it as ``contract`` and ``apply`` it once; acknowledge it.

    ``apply`` runs inside the transaction that records the message in the inbox, so its effect
    and the record commit together. A message that cannot be trusted or read becomes a dead
    letter and is never applied. Other errors propagate: the caller (a Celery task) retries.
    """
    try:
        envelope = verify(raw)
        if envelope.type != contract.TYPE:
            raise InvalidMessage(f"unexpected type {envelope.type} for {task_name}")
        if envelope.version != contract.VERSION:
            raise InvalidMessage(f"unsupported version {envelope.version} of {envelope.type}")
        try:
            message = contract.from_dict(envelope.payload)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage(f"unreadable payload: {exc!r}") from exc
    except InvalidMessage as exc:
        dead_letter_record(app_label=app_label, task_name=task_name, raw=raw, reason=exc.reason)
        return Outcome.REJECTED

    token = current_correlation_id.set(envelope.correlation_id)
    try:
        with transaction.atomic():
            outcome = _inbox_record(app_label=app_label, envelope=envelope)
            if outcome is Outcome.APPLIED:
                apply(message, envelope)
            acknowledge_on_commit(envelope=envelope)
        metrics.MESSAGES_CONSUMED.labels(app=app_label, type=envelope.type, result=outcome).inc()
        if outcome is Outcome.APPLIED:
            lag = (timezone.now() - envelope.occurred).total_seconds()
            metrics.MESSAGE_LAG.labels(type=envelope.type).observe(max(lag, 0.0))
        logger.info(
            "message consumed",
            extra={"app": app_label, "message_id": envelope.id, "type": envelope.type, "result": str(outcome)},
        )
    finally:
        current_correlation_id.reset(token)
    return outcome


def _inbox_record(*, app_label: str, envelope: Envelope) -> Outcome:
    """Record the message in ``app_label``'s inbox: APPLIED if this is its first copy, DUPLICATE
    if the inbox has it already. Call inside the transaction that applies it.

    One statement and no savepoint: the unique message id decides. A copy that another worker is
    applying at this moment makes this insert wait for that transaction; once it commits, this
    copy is a duplicate (had it rolled back, this copy would be the first)."""
    inbox = department(app_label).inbox
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(inbox._meta.db_table)} (message_id, type, received_at)"
            " VALUES (%s, %s, %s) ON CONFLICT (message_id) DO NOTHING",
            [envelope.id, envelope.type, timezone.now()],
        )
        return Outcome.APPLIED if cursor.rowcount == 1 else Outcome.DUPLICATE


def dead_letter_record(*, app_label: str, task_name: str, raw: Any, reason: str, error: str = "") -> None:
    """Keep a message that was refused or could not be applied, for staff to look at."""
    body = raw if isinstance(raw, dict) else {"raw": repr(raw)[:10000]}
    message_id = _uuid_or_none(body.get("id"))
    message_type = str(body.get("type", ""))[:64]
    dead_letters = department(app_label).dead_letters.objects
    logger.error(
        "message dead-lettered",
        extra={
            "app": app_label,
            "message_id": str(message_id) if message_id else None,
            "type": message_type,
            "reason": reason,
            "error": error[:200],
        },
    )
    metrics.DEAD_LETTERS.labels(app=app_label, reason=reason.split(":")[0]).inc()
    update = {"reason": reason[:200], "error": error, "state": DeadLetterState.DEAD, "last_seen_at": timezone.now()}
    if message_id and dead_letters.filter(message_id=message_id).update(times_seen=F("times_seen") + 1, **update):
        return
    try:
        with transaction.atomic():
            dead_letters.create(message_id=message_id, type=message_type, task_name=task_name, envelope=body, **update)
    except IntegrityError:  # the same message rejected by two workers at once
        dead_letters.filter(message_id=message_id).update(times_seen=F("times_seen") + 1, **update)


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def dead_letter_redrive(*, dead_letter: AbstractDeadLetter) -> bool:
    """Run a dead letter through its consumer again, now. True if it was applied (or had been
    already); a message that still cannot be trusted or applied stays dead, with the new error."""
    try:
        outcome = task_named(dead_letter.task_name).run(dead_letter.envelope)
    except Exception as exc:
        type(dead_letter).objects.filter(pk=dead_letter.pk).update(error=repr(exc), last_seen_at=timezone.now())
        logger.warning("dead letter re-drive failed", extra={"dead_letter_id": dead_letter.pk, "error": repr(exc)})
        return False
    if outcome is Outcome.REJECTED:
        return False
    type(dead_letter).objects.filter(pk=dead_letter.pk).update(
        state=DeadLetterState.REDRIVEN, redriven_at=timezone.now()
    )
    logger.info(
        "dead letter re-driven", extra={"dead_letter_id": dead_letter.pk, "message_id": str(dead_letter.message_id)}
    )
    return True

"""Acknowledgements: a consumer tells the producer that a message is done.

Once the transaction that applied a message (or found it a duplicate) has committed, the
consumer pushes a signed acknowledgement (the message id; see messaging.envelope.ack_sign) onto
the producer's list in Redis: one RPUSH, no row, no task. The relay takes each department's
acknowledgements in batches, checks their signatures and marks their messages done in one
UPDATE per batch.

An acknowledgement lives only in Redis. One that is lost (Redis away when it is pushed, Redis
restarted empty, a relay that dies holding a batch) costs a resend after MESSAGING_ACK_TIMEOUT:
the consumer's inbox finds the message a duplicate, changes nothing, and acknowledges it again.
See docs/messaging.md and docs/adr/0014-acknowledgements-on-redis-lists.md."""

import logging
from dataclasses import dataclass
from functools import partial
from typing import cast

import redis
from django.conf import settings
from django.db import Error as DatabaseFailure
from django.db import transaction
from django.utils import timezone

from core import metrics
from core.redis_client import REDIS_FAILED, fail_fast_client
from messaging.envelope import Envelope, InvalidMessage, ack_sign, ack_verify
from messaging.models import OutboxState
from messaging.registry import department

logger = logging.getLogger(__name__)


def ack_list(app_label: str) -> str:
    """The Redis list that holds the acknowledgements of ``app_label``'s messages."""
    return f"acks:{app_label}"


def acknowledge_on_commit(*, envelope: Envelope) -> None:
    """Acknowledge ``envelope`` to its producer once the current transaction commits.

    Call inside the transaction that applied the message (or found it applied): the producer
    must never take a message for done whose effect could still roll back."""
    transaction.on_commit(partial(_push, recipient=envelope.source, message_id=envelope.id))


def _push(*, recipient: str, message_id: str) -> None:
    try:
        fail_fast_client(settings.REDIS_URL).rpush(
            ack_list(recipient), ack_sign(message_id=message_id, recipient=recipient)
        )
    except REDIS_FAILED as exc:  # the producer sends the message again, and we acknowledge it again
        metrics.ACKNOWLEDGEMENTS.labels(app=recipient, result="lost").inc()
        logger.warning("acknowledgement not pushed", extra={"message_id": message_id, "error": repr(exc)})


@dataclass(frozen=True)
class AckResult:
    taken: int = 0  # acknowledgements taken from the list, whatever became of them
    applied: int = 0  # messages marked done
    rejected: int = 0
    broker_down: bool = False


def acknowledgements_apply(*, app_label: str, batch_size: int = 200) -> AckResult:
    """Take up to ``batch_size`` acknowledgements from ``app_label``'s list and mark their
    messages done (whatever state they were in: a late acknowledgement of an abandoned message
    proves it arrived after all), in one UPDATE.

    A forged or malformed acknowledgement is logged, counted and dropped. Should the UPDATE
    fail, the batch goes back to the list and the error propagates (the relay waits for the
    database); a process that dies before the UPDATE loses its batch: those messages are sent
    again and acknowledged again."""
    client = fail_fast_client(settings.REDIS_URL)
    key = ack_list(app_label)
    try:
        taken = cast(list[bytes] | None, client.lpop(key, batch_size)) or []
    except REDIS_FAILED as exc:
        logger.warning("acknowledgements not taken", extra={"app": app_label, "error": repr(exc)})
        return AckResult(broker_down=True)
    trusted: list[bytes] = []
    ids: set[str] = set()
    for raw in taken:
        try:
            ids.add(ack_verify(raw, recipient=app_label))
        except InvalidMessage as exc:
            logger.error(
                "acknowledgement rejected", extra={"app": app_label, "reason": exc.reason, "ack": repr(raw)[:200]}
            )
            continue
        trusted.append(raw)
    rejected = len(taken) - len(trusted)
    applied = 0
    if ids:
        try:
            applied = (
                department(app_label)
                .outbox.objects.filter(pk__in=ids)
                .exclude(state=OutboxState.DONE)
                .update(state=OutboxState.DONE, acked_at=timezone.now(), last_error="")
            )
        except DatabaseFailure:
            _put_back(client, app_label=app_label, acks=trusted)
            raise
    _count(app_label, applied=applied, duplicate=len(trusted) - applied, rejected=rejected)
    return AckResult(taken=len(taken), applied=applied, rejected=rejected)


def _put_back(client: redis.Redis, *, app_label: str, acks: list[bytes]) -> None:
    try:
        client.rpush(ack_list(app_label), *acks)
    except REDIS_FAILED as exc:  # their messages are sent again, and acknowledged again
        metrics.ACKNOWLEDGEMENTS.labels(app=app_label, result="lost").inc(len(acks))
        logger.warning("acknowledgements lost", extra={"app": app_label, "count": len(acks), "error": repr(exc)})


def _count(app_label: str, **results: int) -> None:
    for result, count in results.items():
        if count:
            metrics.ACKNOWLEDGEMENTS.labels(app=app_label, result=result).inc(count)

from typing import Any

from celery import shared_task

from delivery import handlers
from messaging.consumer import Outcome
from messaging.outbox import messages_purge
from messaging.tasks import ConsumerTask


@shared_task(base=ConsumerTask, name="delivery.order_created")
def order_created(envelope: dict[str, Any]) -> Outcome:
    return handlers.order_created(envelope)


@shared_task(base=ConsumerTask, name="delivery.order_cancellation_requested")
def order_cancellation_requested(envelope: dict[str, Any]) -> Outcome:
    return handlers.order_cancellation_requested(envelope)


@shared_task(name="delivery.purge_messages", ignore_result=True)
def purge_messages() -> None:
    messages_purge(app_label="delivery")

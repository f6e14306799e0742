from typing import Any

from celery import shared_task

from delivery import handlers
from messaging.consumer import Outcome
from messaging.tasks import ConsumerTask


@shared_task(base=ConsumerTask, name="delivery.order_created")
def order_created(envelope: dict[str, Any]) -> Outcome:
    return handlers.order_created(envelope)

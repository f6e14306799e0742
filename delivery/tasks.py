from typing import Any

from celery import shared_task

from config.messaging.consumer import Outcome
from config.messaging.tasks import ConsumerTask
from delivery import handlers


@shared_task(base=ConsumerTask, name="delivery.order_created")
def order_created(envelope: dict[str, Any]) -> Outcome:
    return handlers.order_created(envelope)

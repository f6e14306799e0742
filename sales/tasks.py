from typing import Any

from celery import shared_task

from messaging.consumer import Outcome
from messaging.outbox import messages_purge
from messaging.tasks import ConsumerTask
from sales import handlers
from sales.services import idempotency_keys_purge


@shared_task(base=ConsumerTask, name="sales.shipment_status_changed")
def shipment_status_changed(envelope: dict[str, Any]) -> Outcome:
    return handlers.shipment_status_changed(envelope)


@shared_task(base=ConsumerTask, name="sales.shipment_cancellation_decided")
def shipment_cancellation_decided(envelope: dict[str, Any]) -> Outcome:
    return handlers.shipment_cancellation_decided(envelope)


@shared_task(name="sales.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> None:
    idempotency_keys_purge()


@shared_task(name="sales.purge_messages", ignore_result=True)
def purge_messages() -> None:
    messages_purge(app_label="sales")

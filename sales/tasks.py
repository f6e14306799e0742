from celery import shared_task

from sales.services import idempotency_keys_purge


@shared_task(name="sales.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> None:
    idempotency_keys_purge()

from celery import shared_task

from accounts.services import tokens_purge_expired


@shared_task(name="accounts.purge_expired_tokens", ignore_result=True)
def purge_expired_tokens() -> None:
    tokens_purge_expired()

"""Hands a signed envelope to the broker as a Celery task of the receiving department.

Senders name the receiving task as a string (settings.MESSAGING_ROUTES), so neither department
imports the other's tasks. A publish never waits for a broker that is down: no retries here, short
socket timeouts in the broker settings; the outbox does the retrying.
"""

from typing import Any

import redis
from celery import Celery, Task
from django.conf import settings
from kombu.transport.redis import Channel as RedisChannel

from messaging.registry import departments

# The project's Celery app. config/celery.py binds it when it makes it (the layers forbid an
# import from here to config); Celery's "current app" would be whichever app was made last.
_app: Celery | None = None


def bind_app(app: Celery) -> None:
    global _app
    _app = app


def celery_app() -> Celery:
    if _app is None:
        raise RuntimeError("No Celery app bound to the transport: import config.celery first.")
    return _app


def task_for(envelope: dict[str, Any]) -> str:
    return settings.MESSAGING_ROUTES[envelope["type"]]


def queue_for(envelope: dict[str, Any]) -> str:
    return task_for(envelope).split(".", 1)[0]


def publish(envelope: dict[str, Any]) -> None:
    celery_app().send_task(
        task_for(envelope),
        args=[envelope],
        queue=queue_for(envelope),
        retry=False,
        ignore_result=True,
        # What Celery shows of the arguments (headers, events, logs): the message's type and id,
        # not its payload (addresses), and no repr of the whole envelope on every send.
        argsrepr=f"({envelope['type']} {envelope['id']})",
        kwargsrepr="{}",
    )


# The broker being away: refusing or dropping connections, or not answering in time. kombu
# raises its OperationalError with redis-py's error (or the socket's) as the cause.
BROKER_AWAY = (ConnectionError, TimeoutError, redis.ConnectionError, redis.TimeoutError)


def broker_away(error: BaseException) -> bool:
    """Whether a failed publish (or broker query) failed because the broker could not be reached.

    Such a failure says nothing about the message: it is sent once the broker is back, and is
    not counted as an attempt. Anything else (a module missing, a message that cannot be
    encoded or routed, Redis refusing a command) is a fault that waiting may not cure.
    """
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, BROKER_AWAY):
            return True
        seen.add(id(cause))
        cause = cause.__cause__
    return False


def busy_queues() -> set[str]:
    """The departments' queues that hold messages not yet taken by a worker."""
    with celery_app().connection_for_write() as connection:
        channel = connection.default_channel
        assert isinstance(channel, RedisChannel)  # the broker is Redis (CELERY_BROKER_TRANSPORT)
        client = channel.client
        return {each.label for each in departments() if client.llen(each.label)}


def task_named(name: str) -> Task:
    """A registered task by name, in any process (a worker has them all imported; the web
    process imports the task modules on first use)."""
    app = celery_app()
    if name not in app.tasks:  # importing again would also set Django (and logging) up again
        app.loader.import_default_modules()
    return app.tasks[name]

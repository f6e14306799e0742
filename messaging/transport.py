"""Hands a signed envelope to the broker as a Celery task of the receiving department.

Senders name the receiving task as a string (settings.MESSAGING_ROUTES), so neither department
imports the other's tasks. A publish never waits for a broker that is down: no retries here, short
socket timeouts in the broker settings; the outbox does the retrying.
"""

import base64
import json
import uuid
from typing import Any

import redis
from celery import Celery, Task
from django.conf import settings
from kombu import serialization

from core.redis_client import redis_client
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
    """Put ``envelope`` on its receiving queue as a Celery task message: one LPUSH.

    The message is the one ``send_task`` would send (Celery builds its headers and body, kombu
    encodes it as its Redis transport stores messages), without the producer, connection pool
    and channel machinery around it, which cost more than the rest of the publish together
    (docs/adr/0012-publish-as-one-lpush.md)."""
    name, queue, task_id = task_for(envelope), queue_for(envelope), str(uuid.uuid4())
    app = celery_app()
    task = app.amqp.as_task_v2(
        task_id,
        name,
        args=(envelope,),
        ignore_result=True,
        # As send_task names them when the task is registered here; the worker applies the same.
        time_limit=app.conf.task_time_limit,
        soft_time_limit=app.conf.task_soft_time_limit,
        # What Celery shows of the arguments (headers, events, logs): the message's type and id,
        # not its payload (addresses), and no repr of the whole envelope on every send.
        argsrepr=f"({envelope['type']} {envelope['id']})",
        kwargsrepr="{}",
    )
    content_type, content_encoding, body = serialization.dumps(task.body, serializer="json")
    message = {
        "body": base64.b64encode(body.encode() if isinstance(body, str) else body).decode(),
        "content-encoding": content_encoding,
        "content-type": content_type,
        "headers": task.headers,
        "properties": {
            **task.properties,
            "delivery_mode": 2,  # persistent
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    _broker().lpush(queue, json.dumps(message))


def _broker() -> redis.Redis:
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    # One quick reconnect (a stale pooled connection), then give up: the outbox retries.
    return redis_client(
        settings.CELERY_BROKER_URL,
        connect_timeout=options["socket_connect_timeout"],
        timeout=options["socket_timeout"],
        retries=1,
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
    broker = _broker()
    return {each.label for each in departments() if broker.llen(each.label)}


def task_named(name: str) -> Task:
    """A registered task by name, in any process (a worker has them all imported; the web
    process imports the task modules on first use)."""
    app = celery_app()
    if name not in app.tasks:  # importing again would also set Django (and logging) up again
        app.loader.import_default_modules()
    return app.tasks[name]

import base64
import contextlib
import json
import socket
import threading

import pytest
import redis
from django.conf import settings
from kombu.exceptions import EncodeError

from messaging import transport
from messaging.envelope import Envelope
from tests.integration.stack import free_port


def test_a_published_message_shows_celery_its_type_and_id_not_its_payload():
    queue = redis.Redis.from_url(settings.REDIS_URL)
    queue.delete("delivery")
    envelope = Envelope(
        type="order.created",
        version=1,
        source="sales",
        payload={"shipping_address": {"name": "Ada Lovelace"}},
        correlation_id="request-1",
    ).signed()

    transport.publish(envelope)

    raw = json.loads(queue.lpop("delivery"))
    headers = raw["headers"]
    assert (headers["task"], headers["argsrepr"], headers["kwargsrepr"]) == (
        "delivery.order_created",
        f"(order.created {envelope['id']})",
        "{}",
    )
    assert "Ada Lovelace" not in json.dumps(headers)
    assert queue.llen("delivery") == 0


def test_a_published_message_is_the_one_celery_would_send():
    queue = redis.Redis.from_url(settings.REDIS_URL)
    queue.delete("delivery")
    envelope = order_created()
    transport.task_named("delivery.order_created")  # registered, as in a worker: send_task adds its limits
    transport.celery_app().send_task(
        "delivery.order_created",
        args=[envelope],
        queue="delivery",
        ignore_result=True,
        argsrepr=f"(order.created {envelope['id']})",
        kwargsrepr="{}",
    )
    transport.publish(envelope)

    sent_by_celery, published = (json.loads(queue.rpop("delivery")) for _ in range(2))

    ids = ("id", "root_id", "correlation_id", "delivery_tag", "reply_to")
    for message in (sent_by_celery, published):
        message["body"] = json.loads(base64.b64decode(message["body"]))
        for part in ("headers", "properties"):
            message[part] = {key: value for key, value in message[part].items() if key not in ids}
    # Celery also copies argsrepr and kwargsrepr into the properties, which nothing reads.
    for key in ("argsrepr", "kwargsrepr"):
        del sent_by_celery["properties"][key]
    assert published == sent_by_celery
    assert published["body"][0] == [envelope]


# --- what counts as the broker being away --------------------------------------------------


@pytest.fixture
def broker_at(settings):
    """Points transport.publish at another broker, with short socket timeouts (the test waits
    for them)."""

    def point(url: str) -> None:
        settings.CELERY_BROKER_URL = url
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
            **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            "socket_connect_timeout": 0.5,
            "socket_timeout": 0.5,
        }

    return point


@contextlib.contextmanager
def listening(*, hang_up: bool):
    """A TCP port on loopback that takes connections and never answers (or hangs up on them)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(5)
    stop = threading.Event()

    def hang_up_on_each() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                server.accept()[0].close()

    thread = threading.Thread(target=hang_up_on_each, daemon=True)
    if hang_up:
        thread.start()
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        stop.set()
        server.close()


def order_created() -> dict:
    return Envelope(type="order.created", version=1, source="sales", payload={}, correlation_id="c-1").signed()


def test_a_broker_that_refuses_connections_is_away(broker_at):
    broker_at(f"redis://127.0.0.1:{free_port()}/0")

    with pytest.raises(redis.ConnectionError) as caught:
        transport.publish(order_created())

    assert transport.broker_away(caught.value) is True


@pytest.mark.parametrize(
    ("hang_up", "cause"),
    [(False, redis.TimeoutError), (True, redis.ConnectionError)],
    ids=["never-answers", "hangs-up"],
)
def test_a_broker_that_does_not_answer_or_hangs_up_is_away(broker_at, hang_up, cause):
    with listening(hang_up=hang_up) as url:
        broker_at(url)

        with pytest.raises(cause) as caught:
            transport.publish(order_created())

    assert transport.broker_away(caught.value) is True


def test_a_message_that_cannot_be_encoded_is_not_the_broker_being_away():
    envelope = {**order_created(), "payload": {"tracking": object()}}  # a bug: not JSON

    with pytest.raises(EncodeError) as caught:
        transport.publish(envelope)

    assert transport.broker_away(caught.value) is False


def test_a_message_type_without_a_route_is_not_the_broker_being_away():
    envelope = {**order_created(), "type": "order.misspelt"}

    with pytest.raises(KeyError) as caught:
        transport.publish(envelope)

    assert transport.broker_away(caught.value) is False

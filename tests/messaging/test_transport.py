import json

import redis
from django.conf import settings

from config.messaging import transport
from config.messaging.envelope import Envelope


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

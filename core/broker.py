"""kombu's Redis transport, with one failure that ended workers turned into a log line.

When Redis dies under a worker that holds unacknowledged messages, kombu gives them back to
Redis as it closes the channel (``restore_unacked``). If the connection is already gone by then,
that raises (seen: ``AttributeError: 'NoneType' object has no attribute 'hostname'`` from the
connection parameters), the error escapes Celery's connection-error handling and the worker
exits for good. Nothing needs giving back at that moment: kombu also keeps each unacknowledged
message in Redis, and hands it out again after the visibility timeout; and if Redis lost it,
the producer's outbox sends it again. So the failure is logged and the worker carries on and
reconnects. Selected with ``CELERY_BROKER_TRANSPORT``; the URL stays ``redis://``/``rediss://``.
See docs/adr/0009-kombu-transport-workaround.md."""

import logging
from typing import Any

from kombu.transport import redis

logger = logging.getLogger(__name__)


class QoS(redis.QoS):
    def restore_unacked(self, client: Any = None) -> None:
        try:
            super().restore_unacked(client)
        except Exception as exc:
            delivered = self._delivered if self._delivered is not None else {}
            logger.warning(
                "unacknowledged messages not given back to Redis now; they come back after the "
                "visibility timeout, or from the outbox",
                extra={"messages": len(delivered), "error": repr(exc)},
            )
            delivered.clear()


class Channel(redis.Channel):
    QoS = QoS


class Transport(redis.Transport):
    Channel = Channel

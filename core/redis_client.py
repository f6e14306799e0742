"""Redis clients, one (and one connection pool) per URL, timeouts and retries, per process.

``fail_fast_client`` is for what must never wait on Redis: rate limits (core.throttling) and
acknowledgements (messaging.acks). Half a second to connect or to answer, no retries: a caller
treats any of ``REDIS_FAILED`` as Redis being away and goes on without it."""

from functools import cache
from typing import Final

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

# What a Redis call raises when Redis is away, slow or its connection breaks. redis-py raises
# its own errors in most cases, but a socket closed under a connection while it reads (seen
# under load in the benchmark: a 500 from the throttle) surfaces as the socket's OSError or as
# the ValueError of its closed read buffer (redis/redis-py#883, #947).
REDIS_FAILED: Final = (redis.RedisError, OSError, ValueError)


@cache
def redis_client(url: str, *, connect_timeout: float, timeout: float, retries: int) -> redis.Redis:
    """A client that gives up after ``retries`` immediate reconnects."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=connect_timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), retries)
    )


def fail_fast_client(url: str) -> redis.Redis:
    return redis_client(url, connect_timeout=0.5, timeout=0.5, retries=0)

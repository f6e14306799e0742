"""Redis clients, one (and one connection pool) per URL, timeouts and retries, per process.

``fail_fast_client`` is for what must never wait on Redis: rate limits (core.throttling) and
acknowledgements (messaging.acks). Half a second to connect or to answer, no retries: a caller
treats any ``redis.RedisError`` as Redis being away and goes on without it."""

from functools import cache

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


@cache
def redis_client(url: str, *, connect_timeout: float, timeout: float, retries: int) -> redis.Redis:
    """A client that gives up after ``retries`` immediate reconnects."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=connect_timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), retries)
    )


def fail_fast_client(url: str) -> redis.Redis:
    return redis_client(url, connect_timeout=0.5, timeout=0.5, retries=0)

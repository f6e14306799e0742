"""The Redis client for what must never wait on Redis: rate limits (core.throttling) and
acknowledgements (messaging.acks). Half a second to connect or to answer, no retries: a caller
treats any ``redis.RedisError`` as Redis being away and goes on without it."""

from functools import cache

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


@cache
def fail_fast_client(url: str) -> redis.Redis:
    """One client (and one connection pool) per URL and process."""
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5, retry=Retry(NoBackoff(), 0))

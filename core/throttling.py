"""Rate limits for the API, counted in Redis in one round trip, and let through when Redis is away.

Every request counts against its user (``user`` rate), or its client address when anonymous
(``anon``). A view with a ``throttle_scope`` (log-in, registration, placing orders) also counts
against ``<scope>`` per user (per address when anonymous) and ``<scope>_address`` per address,
whoever asks. Each limit is a fixed window (the rate's second, minute, hour or day): one
``INCR`` and one ``EXPIRE`` per limit, all in a single pipeline. A broken limiter must never stop
customers from placing orders, so any Redis error lets the request through.
See docs/adr/0004-single-round-trip-throttle.md and docs/operations.md."""

import logging
import time
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from core.redis_client import REDIS_FAILED, fail_fast_client

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse(rate: str) -> tuple[int, int]:
    """'60/min' → (60, 60): requests allowed, window in seconds."""
    count, period = rate.split("/")
    return int(count), _PERIODS[period[0]]


class RateLimitThrottle(BaseThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        self._wait = None
        rates = api_settings.DEFAULT_THROTTLE_RATES
        address = self.get_ident(request)
        user = request.user if request.user and request.user.is_authenticated else None
        who = f"user-{user.pk}" if user else f"address-{address}"
        limits = [("user" if user else "anon", who)]
        scope = getattr(view, "throttle_scope", None)
        if scope:
            limits += [(scope, who), (f"{scope}_address", f"address-{address}")]

        now = time.time()
        plan = []
        for name, ident in limits:
            allowed, window = _parse(str(rates[name]))  # "60/min" (drf-stubs type rates as numbers)
            start = int(now // window) * window
            plan.append((allowed, window, start, f"throttle:{name}:{ident}:{start}"))
        try:
            pipe = fail_fast_client(settings.REDIS_URL).pipeline(transaction=False)
            for _, window, _, key in plan:
                pipe.incr(key)
                pipe.expire(key, window, nx=True)
            counts = pipe.execute()[::2]
        except REDIS_FAILED as exc:
            logger.warning("throttle skipped", extra={"error": repr(exc)})
            return True
        over = [
            start + window - now
            for (allowed, window, start, _), count in zip(plan, counts, strict=True)
            if count > allowed
        ]
        if over:
            self._wait = max(over)
            return False
        return True

    def wait(self) -> float | None:
        return self._wait

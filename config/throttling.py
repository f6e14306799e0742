"""DRF throttles that count in the shared cache (Redis) and let requests through when it is
away: a broken throttle must never stop customers from placing orders."""

import logging
from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

logger = logging.getLogger(__name__)


class FailOpenMixin:
    @property
    def THROTTLE_RATES(self) -> dict[str, str]:
        # Read the settings now, not when DRF was imported (DRF copies them at class creation).
        return api_settings.DEFAULT_THROTTLE_RATES

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)  # type: ignore[misc]
        except Exception as exc:  # the cache is down
            logger.warning("throttle skipped", extra={"error": repr(exc)})
            return True


class UserOrAddressRateThrottle(FailOpenMixin, SimpleRateThrottle):
    """Every API request: per user ("user" rate), or per client address when anonymous ("anon")."""

    def __init__(self) -> None:  # the scope is known per request
        pass

    def allow_request(self, request: Request, view: Any) -> bool:
        self.scope = "user" if request.user and request.user.is_authenticated else "anon"
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str:
        ident = request.user.pk if self.scope == "user" else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ScopedUserRateThrottle(FailOpenMixin, ScopedRateThrottle):
    """A view's own ``throttle_scope``, per user (per address when anonymous)."""


class ScopedAddressRateThrottle(FailOpenMixin, SimpleRateThrottle):
    """A view's own ``throttle_scope``, per client address whoever asks (``<scope>_address``)."""

    def __init__(self) -> None:  # the scope is known per request
        pass

    def allow_request(self, request: Request, view: Any) -> bool:
        scope = getattr(view, "throttle_scope", None)
        if not scope:
            return True
        self.scope = f"{scope}_address"
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

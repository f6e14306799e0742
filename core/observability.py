"""Request context, structured logs and health checks, shared by every process."""

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from redis.backoff import NoBackoff
from redis.retry import Retry

from core import metrics
from core.context import current_correlation_id
from core.db import deadline

logger = logging.getLogger("config.requests")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestContextMiddleware:
    """Takes the caller's X-Request-ID (or makes one) as the correlation id of everything the
    request does, messages included; answers with it; logs and counts the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        token = current_correlation_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            current_correlation_id.reset(token)
        elapsed = time.perf_counter() - started
        match = request.resolver_match
        view = match.view_name if match else "unmatched"
        metrics.http_request(view=view, method=request.method or "", code=response.status_code, seconds=elapsed)
        response["X-Request-ID"] = request_id
        logger.info(
            "request",
            extra={
                "correlation_id": request_id,
                "method": request.method,
                "path": request.path,  # never the query string or body
                "view": view,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
        return response


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process runs and answers."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """The process can do its work: the database and Redis both answer, quickly."""
    checks = {"database": _check_database, "redis": _check_redis}
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:
            logger.warning("readiness check failed", extra={"check": name, "error": repr(exc)})
            results[name] = f"failed: {type(exc).__name__}"
    failed = [name for name, result in results.items() if result != "ok"]
    body: dict[str, Any] = {"status": "ok" if not failed else "unavailable", "checks": results}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)


def _check_database() -> None:
    # A hung server fails this in a second; one that just failed, at once (core.db's breaker).
    # A slow answer to this probe alone does not open the breaker for the real work.
    with deadline(1.0, trips=False), connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    try:
        client.ping()
    finally:
        client.close()

"""The answers Django gives when a request goes wrong before or outside a DRF view.

Under /api/ every answer is JSON (API.md), so an unknown path, a refused body or an unhandled
error there gets a ``{"detail": ...}`` body; the clerk pages and the admin keep Django's HTML.
A database that cannot be reached or does not answer in time (``OperationalError``: refused,
dropped, statement or lock timeout; ``InterfaceError``: a connection already closed) is not a
bug but an outage the client should wait out: a 503 with ``Retry-After``, wherever the error
was raised while handling the request (authentication, a view, a middleware saving the session).
DRF views map it in ``core.api.exception_handler``, other views in ``DatabaseErrorsMiddleware``;
what is raised elsewhere (a middleware saving the session) reaches ``server_error``.
"""

import logging
import sys
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
# Seconds a client should wait before retrying while the database is away: about how long a
# restart or a failover takes, and long enough not to pile retries onto a recovering server.
RETRY_AFTER_SECONDS = 5
UNAVAILABLE = "The service is temporarily unavailable; please retry in a few seconds."

_UNAVAILABLE_PAGE = (
    '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>Temporarily unavailable</title></head>\n'
    "<body><h1>Temporarily unavailable</h1><p>Please try again in a few seconds.</p></body>\n</html>\n"
)


def _json(body: dict[str, str], status: int, headers: dict[str, str] | None = None) -> JsonResponse:
    # Written as DRF's renderer writes every other answer of the API.
    return JsonResponse(body, status=status, json_dumps_params={"separators": (",", ":")}, headers=headers)


def is_api(request: HttpRequest) -> bool:
    return request.path_info == "/api" or request.path_info.startswith("/api/")


def service_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: JSON under /api/, a short page (no template, no database) elsewhere."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if is_api(request):
        return _json({"detail": UNAVAILABLE}, 503, headers=headers)
    return HttpResponse(_UNAVAILABLE_PAGE, status=503, headers=headers)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return _json({"detail": "Bad request."}, 400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return _json({"detail": "You do not have permission to perform this action."}, 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return _json({"detail": "Not found."}, 404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception (in its except clause), so exc_info is it.
    if isinstance(sys.exc_info()[1], DATABASE_ERRORS):
        return service_unavailable(request)
    if is_api(request):
        return _json({"detail": "Server error."}, 500)
    return defaults.server_error(request)


class DatabaseErrorsMiddleware:
    """A database error raised in a view that is not DRF's (the clerk pages, the admin) is a 503
    here, logged as one warning line: the 500 handler would log its whole traceback and report
    it to Sentry for every request of an outage."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_ERRORS):
            return None
        logger.warning("database unavailable", extra={"path": request.path, "error": repr(exception)[:200]})
        return service_unavailable(request)

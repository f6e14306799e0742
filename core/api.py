"""API conventions shared by both departments: pagination and the error body."""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from core.errors import DATABASE_ERRORS, RETRY_AFTER_SECONDS, UNAVAILABLE

logger = logging.getLogger(__name__)


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, but every error body carries a top-level ``detail`` (API.md), a database
    outage is a 503 (see core.errors) and a body over DATA_UPLOAD_MAX_MEMORY_SIZE a 413.
    Anything else unhandled goes on to Django and ``core.errors.server_error``."""
    if isinstance(exc, DATABASE_ERRORS):
        # Raised from authentication, throttling, the view or a serializer alike. No traceback:
        # the outage is the news, and it would be logged on every request while it lasts.
        logger.warning("database unavailable", extra={"error": repr(exc)})
        set_rollback()
        return Response(
            {"detail": UNAVAILABLE},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, RequestDataTooBig):  # DRF reads the body through Django, which refuses it
        return Response(
            {"detail": f"The request body is larger than the {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes allowed."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.ValidationError):
        return response
    if isinstance(response.data, list):
        response.data = {"detail": "Invalid input.", "non_field_errors": response.data}
    elif "detail" not in response.data:
        response.data = {"detail": "Invalid input.", **response.data}
    return response


class JsonErrorsMixin:
    """Errors in JSON from a view whose answers are something else (API.md: every answer under
    /api/ is JSON, errors included), e.g. a wrong method on the schema (YAML) or docs (HTML)."""

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        if getattr(response, "exception", False):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        # A mixin: mypy cannot see the view class whose finalize_response super() reaches.
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]


class ErrorSerializer(serializers.Serializer):
    """Every error body: a ``detail``, plus field errors where DRF gives them."""

    detail = serializers.CharField()


def add_common_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular hook: the answers every /api/ operation may give, written once here.

    401 wherever a bearer token is needed, 400 wherever there is a body to validate, 404 for a
    page past the end of a list, 429 everywhere (throttling); the shared Error component behind
    each."""
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault(
        "Error",
        {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]},
    )
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path in result["paths"].values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            if any("jwtAuth" in requirement for requirement in operation.get("security", [])):
                responses.setdefault("401", {"description": "No valid bearer token.", "content": error})
            responses.setdefault("429", {"description": "Too many requests; see Retry-After.", "content": error})
            if "requestBody" in operation:
                responses.setdefault("400", {"description": "Invalid input, with field errors.", "content": error})
            if any(parameter.get("name") == "page" for parameter in operation.get("parameters", [])):
                responses.setdefault("404", {"description": "No such page.", "content": error})
    return result

"""API conventions shared by both departments: pagination and the error body."""

from typing import Any

from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, but every error body carries a top-level ``detail`` (API.md)."""
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.ValidationError):
        return response
    if isinstance(response.data, list):
        response.data = {"detail": "Invalid input.", "non_field_errors": response.data}
    elif "detail" not in response.data:
        response.data = {"detail": "Invalid input.", **response.data}
    return response

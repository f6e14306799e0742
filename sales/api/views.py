import logging
import re
from collections.abc import Sequence
from typing import Any

import django_filters
from django.db import IntegrityError
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts.api.auth import authenticated_user
from core import metrics
from core.api import ErrorSerializer
from core.ids import PUBLIC_ID_PATTERN
from sales import selectors, services
from sales.api.serializers import (
    OrderCancelSerializer,
    OrderCreateSerializer,
    OrderSerializer,
    OrderUnavailableSerializer,
    ProductSerializer,
    ProductUpdateSerializer,
)
from sales.models import Order, OrderStatus, Product

logger = logging.getLogger(__name__)

# --- Catalogue ------------------------------------------------------------------------------


class IsStaffOrReadOnly(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(
            request.user
            and request.user.is_authenticated
            and (request.method in permissions.SAFE_METHODS or request.user.is_staff)
        )


@extend_schema_view(
    retrieve=extend_schema(responses={200: ProductSerializer, 404: ErrorSerializer}),
    create=extend_schema(responses={201: ProductSerializer, 400: ErrorSerializer, 403: ErrorSerializer}),
    partial_update=extend_schema(
        responses={200: ProductSerializer, 400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}
    ),
)
class ProductViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [IsStaffOrReadOnly]
    lookup_field = "sku"
    # What a sku may hold (Product.sku), at most its 64 characters: any other is a 404 at once.
    lookup_value_regex = r"[0-9A-Za-z._-]{1,64}"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> Any:
        return selectors.product_list()

    def get_serializer_class(self) -> type[ProductSerializer]:
        return ProductUpdateSerializer if self.action == "partial_update" else ProductSerializer

    def perform_create(self, serializer: BaseSerializer[Product]) -> None:
        try:
            serializer.instance = services.product_create(**serializer.validated_data)
        except IntegrityError as exc:  # the same sku created twice at the same moment
            raise ValidationError({"sku": ["product with this sku already exists."]}) from exc

    def perform_update(self, serializer: BaseSerializer[Product]) -> None:
        assert isinstance(serializer.instance, Product)  # UpdateModelMixin found it
        serializer.instance = services.product_update(product=serializer.instance, **serializer.validated_data)


# --- Orders ---------------------------------------------------------------------------------


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)

    class Meta:
        model = Order
        fields = ["status"]


class IdempotencyKeyBusy(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed; retry later."
    default_code = "idempotency_key_in_progress"


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used with a different request body."
    default_code = "idempotency_key_reused"


class OrderShipped(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This order has already shipped; it can no longer be cancelled."
    default_code = "order_shipped"


_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}")


@extend_schema_view(
    list=extend_schema(responses={200: OrderSerializer(many=True), 400: ErrorSerializer}),
    retrieve=extend_schema(responses={200: OrderSerializer, 404: ErrorSerializer}),
    create=extend_schema(
        request=OrderCreateSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="1–255 printable characters; a retry with the same key and body gets the first answer.",
            )
        ],
        responses={
            201: OrderSerializer,
            400: ErrorSerializer,
            409: OpenApiResponse(
                OrderUnavailableSerializer,
                description="Not enough stock (with `unavailable`), or the same key still in progress (`detail` only).",
            ),
            422: ErrorSerializer,
        },
    ),
    cancel=extend_schema(
        request=OrderCancelSerializer,
        description="Ask to cancel the order. Delivery decides (`cancellation.state` goes from requested to "
        "accepted or refused); an accepted cancellation sets the order's status to cancelled and puts its "
        "stock back. Asking again while a request is open, or for a cancelled order, changes nothing.",
        responses={202: OrderSerializer, 400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    ),
)
class OrderViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    lookup_value_regex = PUBLIC_ID_PATTERN

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return Order.objects.none()
        return selectors.order_list_for_customer(customer=authenticated_user(self.request))

    def get_throttles(self) -> list[Any]:
        # Placing orders has its own, stricter rates; reading them does not.
        self.throttle_scope = "orders" if self.action == "create" else None
        return super().get_throttles()

    def retrieve(self, request: Request, pk: str) -> Response:
        order = selectors.order_get_for_user(user=authenticated_user(request), order_id=pk)
        if order is None:
            raise Http404
        return Response(OrderSerializer(order).data)

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        user = authenticated_user(request)
        if not selectors.order_visible_to(user=user, order_id=pk):
            raise Http404
        body = OrderCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            asked = services.order_cancel_request(
                order_id=pk, requested_by=user, source="api", reason=body.validated_data["reason"]
            )
        except services.OrderAlreadyShipped as exc:
            raise OrderShipped() from exc
        return Response(OrderSerializer(asked.order).data, status=status.HTTP_202_ACCEPTED)

    def create(self, request: Request) -> Response:
        serializer = OrderCreateSerializer(data=request.data)
        if not serializer.is_valid():
            _refused("invalid")
            raise ValidationError(serializer.errors)
        key = request.headers.get("Idempotency-Key")
        if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
            raise ValidationError({"detail": "Idempotency-Key must be 1 to 255 printable ASCII characters."})
        try:
            placement = services.order_place_idempotently(
                customer=authenticated_user(request),
                lines=serializer.line_requests(),
                shipping_address=serializer.shipping(),
                idempotency_key=key,
                request_body=request.data,
            )
        except services.IdempotencyKeyMismatch as exc:
            raise IdempotencyKeyReused() from exc
        except services.IdempotencyKeyInProgress as exc:
            raise IdempotencyKeyBusy() from exc
        except services.UnknownProducts as exc:
            _refused("unknown_product", skus=exc.skus)
            raise ValidationError({"items": _unknown_sku_errors(serializer, exc.skus)}) from exc
        except services.AmountsTooLarge as exc:
            _refused("amount_too_large", skus=exc.skus)
            raise ValidationError({"items": _amount_errors(serializer, exc)}) from exc
        # A replayed answer was counted when it was first given.
        if placement.order is None:
            if not placement.replayed:
                _refused("unavailable", skus=[line.sku for line in placement.unavailable])
            return Response(_unavailable(placement.unavailable), status=status.HTTP_409_CONFLICT)
        if not placement.replayed:
            metrics.ORDERS_PLACED.inc()
        location = reverse("order-detail", kwargs={"pk": placement.order.id})
        return Response(
            OrderSerializer(placement.order).data, status=status.HTTP_201_CREATED, headers={"Location": location}
        )


def _refused(reason: str, **details: Any) -> None:
    metrics.ORDERS_REFUSED.labels(reason=reason).inc()
    logger.info("order refused", extra={"reason": reason, **details})


def _unavailable(lines: Sequence[services.UnavailableLine]) -> dict[str, Any]:
    return {
        "detail": "Some products are not available in the quantity asked for.",
        "unavailable": [{"sku": line.sku, "requested": line.requested, "available": line.available} for line in lines],
    }


def _unknown_sku_errors(serializer: OrderCreateSerializer, skus: list[str]) -> dict[str, dict[str, list[str]]]:
    """Field errors in DRF's shape for a list: keyed by the position of each bad item."""
    unknown = set(skus)
    return {
        str(index): {"sku": [f'Unknown product "{item["sku"]}".']}
        for index, item in enumerate(serializer.validated_data["items"])
        if item["sku"] in unknown
    }


def _amount_errors(serializer: OrderCreateSerializer, exc: services.AmountsTooLarge) -> Any:
    """The lines whose amount is too large, keyed by position as above; or, when each line fits
    but their sum does not, one error for the items as a whole."""
    if not exc.skus:
        return [f"The order total would be {exc.total}, more than the {services.ORDER_TOTAL_MAX} an order can hold."]
    too_large = set(exc.skus)
    return {
        str(index): {
            "quantity": [f"Price × quantity is more than the {services.LINE_TOTAL_MAX} an order line can hold."]
        }
        for index, item in enumerate(serializer.validated_data["items"])
        if item["sku"] in too_large
    }

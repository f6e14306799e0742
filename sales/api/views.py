import contextlib
import hashlib
import json
import logging
import re
from typing import Any

import django_filters
from django.db import IntegrityError
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from core import metrics
from core.api import ErrorSerializer
from core.ids import PUBLIC_ID_PATTERN
from sales import selectors, services
from sales.api.serializers import (
    OrderCreateSerializer,
    OrderSerializer,
    OrderUnavailableSerializer,
    ProductSerializer,
    ProductUpdateSerializer,
)
from sales.models import IdempotencyKey, Order, OrderStatus

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

    def perform_create(self, serializer: ProductSerializer) -> None:
        try:
            serializer.instance = services.product_create(**serializer.validated_data)
        except IntegrityError as exc:  # the same sku created twice at the same moment
            raise ValidationError({"sku": ["product with this sku already exists."]}) from exc

    def perform_update(self, serializer: ProductSerializer) -> None:
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


_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}")


def request_fingerprint(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


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
)
class OrderViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    lookup_value_regex = PUBLIC_ID_PATTERN

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return Order.objects.none()
        return selectors.order_list_for_customer(customer=self.request.user)

    def get_throttles(self) -> list[Any]:
        # Placing orders has its own, stricter rates; reading them does not.
        self.throttle_scope = "orders" if self.action == "create" else None
        return super().get_throttles()

    def retrieve(self, request: Request, pk: str) -> Response:
        order = selectors.order_get_for_user(user=request.user, order_id=pk)
        if order is None:
            raise Http404
        return Response(OrderSerializer(order).data)

    def create(self, request: Request) -> Response:
        serializer = OrderCreateSerializer(data=request.data)
        if not serializer.is_valid():
            _refused("invalid")
            raise ValidationError(serializer.errors)
        record = self._claim_idempotency_key(request)
        if record is not None and record.state == IdempotencyKey.State.COMPLETED:
            return self._replay(record)
        try:
            order = services.order_place(
                customer=request.user,
                lines=serializer.line_requests(),
                shipping_address=serializer.shipping(),
                idempotency_key=record,
            )
        except services.ProductsUnavailable as exc:
            body = {
                "detail": "Some products are not available in the quantity asked for.",
                "unavailable": [
                    {"sku": line.sku, "requested": line.requested, "available": line.available} for line in exc.lines
                ],
            }
            if record is not None:
                # Should another request have taken the key over meanwhile, it answers for it.
                with contextlib.suppress(services.IdempotencyKeyInProgress):
                    services.idempotency_key_complete(record=record, response_status=409, response_body=body)
            _refused("unavailable", skus=[line.sku for line in exc.lines])
            return Response(body, status=status.HTTP_409_CONFLICT)
        except services.IdempotencyKeyInProgress as exc:  # another request took the key over
            raise IdempotencyKeyBusy() from exc
        except services.UnknownProducts as exc:
            self._release(record)
            _refused("unknown_product", skus=exc.skus)
            raise ValidationError({"items": _unknown_sku_errors(serializer, exc.skus)}) from exc
        except services.AmountsTooLarge as exc:
            self._release(record)
            _refused("amount_too_large", skus=exc.skus)
            raise ValidationError({"items": _amount_errors(serializer, exc)}) from exc
        except Exception:
            self._release(record)
            raise
        metrics.ORDERS_PLACED.inc()
        return self._created(order)

    @staticmethod
    def _release(record: IdempotencyKey | None) -> None:
        if record is not None:
            services.idempotency_key_release(record=record)

    def _claim_idempotency_key(self, request: Request) -> IdempotencyKey | None:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return None
        if not _IDEMPOTENCY_KEY.fullmatch(key):
            raise ValidationError({"detail": "Idempotency-Key must be 1 to 255 printable ASCII characters."})
        try:
            return services.idempotency_key_claim(
                user=request.user, key=key, fingerprint=request_fingerprint(request.data)
            )
        except services.IdempotencyKeyMismatch as exc:
            raise IdempotencyKeyReused() from exc
        except services.IdempotencyKeyInProgress as exc:
            raise IdempotencyKeyBusy() from exc

    def _replay(self, record: IdempotencyKey) -> Response:
        if record.order_id:
            order = selectors.order_get_for_user(user=self.request.user, order_id=record.order_id)
            return self._created(order)
        return Response(record.response_body, status=record.response_status)

    def _created(self, order: Order) -> Response:
        location = reverse("order-detail", kwargs={"pk": order.id})
        return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED, headers={"Location": location})


def _refused(reason: str, **details: Any) -> None:
    metrics.ORDERS_REFUSED.labels(reason=reason).inc()
    logger.info("order refused", extra={"reason": reason, **details})


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

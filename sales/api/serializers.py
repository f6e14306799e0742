from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django_countries import countries
from rest_framework import serializers

from sales.models import Cancellation, Order, OrderLine, Product
from sales.selectors import order_cancellation
from sales.services import LineRequest, ShippingAddress

User = get_user_model()

# --- Catalogue ------------------------------------------------------------------------------


class ProductSerializer(serializers.ModelSerializer):
    available = serializers.BooleanField(read_only=True)

    class Meta:
        model = Product
        fields = ["sku", "name", "price", "stock_quantity", "is_active", "available"]


class ProductUpdateSerializer(ProductSerializer):
    class Meta(ProductSerializer.Meta):
        read_only_fields = ["sku"]


# --- Orders: input --------------------------------------------------------------------------


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer and nothing else: no "2", no 2.0, no true."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class OrderItemInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = StrictIntegerField(min_value=1, max_value=1000)


class ShippingAddressSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=100)
    postal_code = serializers.CharField(max_length=20)
    country = serializers.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code, e.g. DE.")

    def validate_country(self, value: str) -> str:
        code = value.upper()
        if len(code) != 2 or code not in countries:
            raise serializers.ValidationError(f'"{value}" is not an ISO 3166-1 alpha-2 country code.')
        return code


class OrderCreateSerializer(serializers.Serializer):
    # What many=True builds, spelt out (its list arguments are not in the serializer's signature).
    items: serializers.ListSerializer[dict[str, Any]] = serializers.ListSerializer(
        child=OrderItemInputSerializer(), allow_empty=False, max_length=100
    )
    shipping_address = ShippingAddressSerializer()

    def validate_items(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        repeated = sorted(sku for sku, count in Counter(item["sku"] for item in items).items() if count > 1)
        if repeated:
            raise serializers.ValidationError(f"Each sku may appear only once; repeated: {', '.join(repeated)}.")
        return items

    def line_requests(self) -> list[LineRequest]:
        return [LineRequest(sku=item["sku"], quantity=item["quantity"]) for item in self.validated_data["items"]]

    def shipping(self) -> ShippingAddress:
        return ShippingAddress(**self.validated_data["shipping_address"])


# --- Orders: output -------------------------------------------------------------------------


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["sku", "name", "quantity", "unit_price", "line_total"]


class CancellationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cancellation
        fields = ["state", "reason", "requested_at", "decided_at"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display")
    items = OrderLineSerializer(source="lines", many=True)
    shipping_address = ShippingAddressSerializer()
    cancellation = CancellationSerializer(allow_null=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "status",
            "status_display",
            "items",
            "total",
            "shipping_address",
            "created_at",
            "updated_at",
            "shipped_at",
            "delivered_at",
            "cancelled_at",
            "cancellation",
        ]
        read_only_fields = fields

    def to_representation(self, order: Order) -> dict[str, Any]:
        # The answer to every order request, so written out by hand: DRF's field-by-field
        # rendering of an order and its lines cost more than the rest of the request.
        # The fields above still describe it for the schema; the API tests pin the output.
        return {
            "id": order.id,
            "status": order.status,
            "status_display": order.get_status_display(),
            "items": [
                {
                    "sku": line.sku,
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_price": _money(line.unit_price),
                    "line_total": _money(line.line_total),
                }
                for line in order.lines.all()
            ],
            "total": _money(order.total),
            "shipping_address": order.shipping_address,
            "created_at": _time(order.created_at),
            "updated_at": _time(order.updated_at),
            "shipped_at": _time(order.shipped_at),
            "delivered_at": _time(order.delivered_at),
            "cancelled_at": _time(order.cancelled_at),
            "cancellation": _cancellation(order_cancellation(order)),
        }


def _cancellation(cancellation: Cancellation | None) -> dict[str, Any] | None:
    if cancellation is None:
        return None
    return {
        "state": cancellation.state,
        "reason": cancellation.reason,
        "requested_at": _time(cancellation.requested_at),
        "decided_at": _time(cancellation.decided_at),
    }


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _time(value: datetime | None) -> str | None:
    # As DRF writes them: ISO 8601 in UTC, with a "Z".
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class OrderCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class UnavailableLineSerializer(serializers.Serializer):
    sku = serializers.CharField()
    requested = serializers.IntegerField()
    available = serializers.IntegerField()


class OrderUnavailableSerializer(serializers.Serializer):
    detail = serializers.CharField()
    unavailable = UnavailableLineSerializer(many=True)

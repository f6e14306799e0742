from rest_framework import serializers

from delivery.models import TRACKING_NUMBER, TRACKING_NUMBER_HELP, Shipment


class ShipmentItemSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()


class ShipmentAddressSerializer(serializers.Serializer):
    name = serializers.CharField()
    line1 = serializers.CharField()
    line2 = serializers.CharField()
    city = serializers.CharField()
    postal_code = serializers.CharField()
    country = serializers.CharField()


class ShipmentSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display")
    items = ShipmentItemSerializer(many=True)
    # None for a shipment cancelled before its order arrived (delivery.models.Shipment).
    shipping_address = ShipmentAddressSerializer(allow_null=True)

    class Meta:
        model = Shipment
        fields = [
            "id",
            "order_id",
            "status",
            "status_display",
            "items",
            "shipping_address",
            "tracking_number",
            "created_at",
            "shipped_at",
            "delivered_at",
            "cancelled_at",
        ]
        read_only_fields = fields


class ShipSerializer(serializers.Serializer):
    tracking_number = serializers.RegexField(
        TRACKING_NUMBER,
        required=False,
        allow_null=True,
        error_messages={"invalid": TRACKING_NUMBER_HELP},
    )

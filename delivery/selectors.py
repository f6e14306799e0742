"""Delivery reads."""

from django.db.models import Case, IntegerField, QuerySet, Value, When

from delivery.models import Shipment, ShipmentStatus


def shipment_list() -> QuerySet[Shipment]:
    """Every shipment, the ones still to do first (pending, shipped, delivered), oldest first."""
    rank = Case(
        When(status=ShipmentStatus.PENDING, then=Value(0)),
        When(status=ShipmentStatus.SHIPPED, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return Shipment.objects.alias(rank=rank).order_by("rank", "created_at", "id")

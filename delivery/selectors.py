"""Delivery reads."""

from django.db.models import Case, IntegerField, QuerySet, Value, When

from delivery.models import Shipment, ShipmentStatus


def shipment_list(*, status: str | None = None, order_id_prefix: str | None = None) -> QuerySet[Shipment]:
    """Shipments, the ones still to do first (pending, shipped, delivered, cancelled), oldest first;
    optionally only one status, or only orders whose id starts with ``order_id_prefix``."""
    rank = Case(
        When(status=ShipmentStatus.PENDING, then=Value(0)),
        When(status=ShipmentStatus.SHIPPED, then=Value(1)),
        When(status=ShipmentStatus.DELIVERED, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    shipments = Shipment.objects.alias(rank=rank).order_by("rank", "created_at", "id")
    if status:
        shipments = shipments.filter(status=status)
    if order_id_prefix:
        shipments = shipments.filter(order_id__startswith=order_id_prefix.strip().upper())
    return shipments

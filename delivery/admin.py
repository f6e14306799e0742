from django.contrib import admin

from delivery.models import DeadLetter, OutboxMessage, Shipment
from messaging.admin import DeadLetterAdmin, OutboxMessageAdmin, ReadOnlyAdmin


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdmin):
    """Shipments change through the clerks' page and API, which tell sales; staff read here."""

    list_display = [
        "id",
        "order_id",
        "status",
        "tracking_number",
        "created_at",
        "shipped_at",
        "delivered_at",
        "cancelled_at",
    ]
    list_filter = ["status", "created_at"]
    search_fields = ["=id", "order_id", "tracking_number"]
    date_hierarchy = "created_at"


admin.site.register(OutboxMessage, OutboxMessageAdmin)
admin.site.register(DeadLetter, DeadLetterAdmin)

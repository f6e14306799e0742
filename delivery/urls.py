from django.urls import path, register_converter

from core.ids import PublicIdConverter
from delivery import views

# A shipment id that cannot exist (a NUL, 10,000 characters) is a 404 before any query.
register_converter(PublicIdConverter, "public_id")

app_name = "delivery"

urlpatterns = [
    path("", views.shipment_list, name="shipment-list"),
    path("shipments/<public_id:shipment_id>/", views.shipment_detail, name="shipment-detail"),
    path("shipments/<public_id:shipment_id>/ship/", views.shipment_ship, name="shipment-ship"),
    path("shipments/<public_id:shipment_id>/deliver/", views.shipment_deliver, name="shipment-deliver"),
]

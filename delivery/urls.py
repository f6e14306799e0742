from django.urls import path

from delivery import views

app_name = "delivery"

urlpatterns = [
    path("", views.shipment_list, name="shipment-list"),
    path("shipments/<str:shipment_id>/", views.shipment_detail, name="shipment-detail"),
    path("shipments/<str:shipment_id>/ship/", views.shipment_ship, name="shipment-ship"),
    path("shipments/<str:shipment_id>/deliver/", views.shipment_deliver, name="shipment-deliver"),
]

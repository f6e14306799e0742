from django.urls import include, path
from rest_framework.routers import SimpleRouter

from sales.api.views import OrderViewSet, ProductViewSet

router = SimpleRouter()
router.register("products", ProductViewSet, basename="product")
router.register("orders", OrderViewSet, basename="order")

urlpatterns = [
    path("", include(router.urls)),
]

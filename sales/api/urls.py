from django.urls import include, path
from rest_framework.routers import SimpleRouter

from sales.api.views import OrderViewSet, ProductViewSet, RegisterApi, TokenApi, TokenRefreshApi

router = SimpleRouter()
router.register("products", ProductViewSet, basename="product")
router.register("orders", OrderViewSet, basename="order")

urlpatterns = [
    path("auth/register/", RegisterApi.as_view(), name="auth-register"),
    path("auth/token/", TokenApi.as_view(), name="auth-token"),
    path("auth/token/refresh/", TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("", include(router.urls)),
]

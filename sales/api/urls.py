from django.urls import include, path
from rest_framework.routers import SimpleRouter

from sales.api.views import (
    LogoutApi,
    OrderViewSet,
    PasswordChangeApi,
    ProductViewSet,
    RegisterApi,
    TokenApi,
    TokenRefreshApi,
)

router = SimpleRouter()
router.register("products", ProductViewSet, basename="product")
router.register("orders", OrderViewSet, basename="order")

urlpatterns = [
    path("auth/register/", RegisterApi.as_view(), name="auth-register"),
    path("auth/token/", TokenApi.as_view(), name="auth-token"),
    path("auth/token/refresh/", TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("auth/logout/", LogoutApi.as_view(), name="auth-logout"),
    path("auth/password/change/", PasswordChangeApi.as_view(), name="auth-password-change"),
    path("", include(router.urls)),
]

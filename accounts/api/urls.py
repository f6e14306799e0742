from django.urls import path

from accounts.api.views import LogoutApi, PasswordChangeApi, RegisterApi, TokenApi, TokenRefreshApi

urlpatterns = [
    path("register/", RegisterApi.as_view(), name="auth-register"),
    path("token/", TokenApi.as_view(), name="auth-token"),
    path("token/refresh/", TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("logout/", LogoutApi.as_view(), name="auth-logout"),
    path("password/change/", PasswordChangeApi.as_view(), name="auth-password-change"),
]

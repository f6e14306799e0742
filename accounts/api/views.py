from typing import Any

from django.db import IntegrityError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import services
from accounts.api.auth import authenticated_user
from accounts.api.serializers import (
    LogInSerializer,
    LogoutSerializer,
    PasswordChangeSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
)
from accounts.models import User
from core.api import ErrorSerializer


@extend_schema(responses={201: RegisterSerializer, 400: ErrorSerializer})
class RegisterApi(generics.CreateAPIView[User]):
    serializer_class = RegisterSerializer
    authentication_classes: list[type] = []
    permission_classes = [permissions.AllowAny]
    throttle_scope = "register"

    def perform_create(self, serializer: BaseSerializer[User]) -> None:
        try:
            serializer.instance = services.user_register(**serializer.validated_data)
        except IntegrityError as exc:  # the same name registered twice at the same moment
            raise ValidationError({"username": ["A user with that username already exists."]}) from exc


_LOCKED = OpenApiResponse(
    ErrorSerializer,
    description="Throttled, or the account is locked after repeated wrong passwords "
    "(LOGIN_FAILURE_LIMIT, for LOGIN_LOCKOUT_MINUTES; staff can unlock it); see Retry-After.",
)


@extend_schema(
    description="Log in: a new access token and refresh token. The log-in lasts JWT_REFRESH_DAYS at most, "
    "however often it is refreshed.",
    responses={
        200: TokenPairSerializer,
        401: OpenApiResponse(ErrorSerializer, description="Wrong username or password, or an inactive account."),
        429: _LOCKED,
    },
)
class TokenApi(TokenObtainPairView):
    serializer_class = LogInSerializer
    throttle_scope = "auth"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = LogInSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        assert serializer.user is not None  # a valid log-in found its user
        services.account_login_succeeded(username=serializer.user.get_username())
        return Response(serializer.validated_data)


@extend_schema(
    description="A new access token, and the log-in's next refresh token (the one given is refused from now on). "
    "The new refresh token expires when the log-in does.",
    responses={
        200: TokenPairSerializer,
        401: OpenApiResponse(
            ErrorSerializer,
            description="The refresh token is invalid or expired, was logged out or used already, or was issued "
            "before a password change; or the account is inactive.",
        ),
    },
)
class TokenRefreshApi(TokenRefreshView):
    serializer_class = RefreshSerializer
    throttle_scope = "auth"


@extend_schema(
    description="Log out: the given refresh token is refused from now on (logging out twice is harmless). "
    "Access tokens already issued run out by themselves within JWT_ACCESS_MINUTES.",
    request=LogoutSerializer,
    responses={
        204: None,
        400: OpenApiResponse(
            ErrorSerializer,
            description="`refresh` is not a live refresh token of the caller: malformed, expired, an access "
            "token, or another user's.",
        ),
    },
)
class LogoutApi(generics.GenericAPIView):
    serializer_class = LogoutSerializer

    def post(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_log_out(user=authenticated_user(request), refresh=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    description="Change the caller's password. Every token issued before, this request's included, is refused "
    "from then on: log in again with the new password.",
    request=PasswordChangeSerializer,
    responses={
        204: None,
        400: OpenApiResponse(
            ErrorSerializer, description="A wrong `old_password`, or a weak `new_password` (with field errors)."
        ),
        429: _LOCKED,
    },
)
class PasswordChangeApi(generics.GenericAPIView):
    serializer_class = PasswordChangeSerializer
    # Wrong old passwords count towards the account's lock; this keeps their pace down too.
    throttle_scope = "auth"

    def post(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_change_password(
            user=authenticated_user(request), new_password=serializer.validated_data["new_password"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

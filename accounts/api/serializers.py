from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import PasswordField, TokenObtainPairSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import lockout, services
from accounts.models import User
from accounts.tokens import LoggedOutOrNotRefreshToken, LoginRefreshToken


class RegisterSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})

    class Meta:
        model = User
        fields = ["id", "username", "email", "password"]
        read_only_fields = ["id"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        candidate = User(username=attrs["username"], email=attrs["email"])
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class LogInSerializer(TokenObtainPairSerializer):
    # simplejwt's, with refresh tokens that remember their log-in time, and bounded fields.
    token_class = LoginRefreshToken

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Bounds before the password check: a name longer than any account's would only fill the
        # failed log-ins table, and hashing a megabyte-long password costs the server a second.
        self.fields[self.username_field] = serializers.CharField(write_only=True, max_length=150)
        self.fields["password"] = PasswordField(max_length=4096)

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            return super().validate(attrs)
        except AuthenticationFailed:
            if lockout.is_locked_out(self.context["request"]):
                raise lockout.account_locked(username=attrs[self.username_field]) from None
            raise


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(write_only=True)
    access = serializers.CharField(read_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        # TokenError here (bad, expired, blacklisted, password changed) is a 401 in TokenViewBase.
        refresh = services.refresh_token_rotate(refresh=LoginRefreshToken(attrs["refresh"]))
        return {"access": str(refresh.access_token), "refresh": str(refresh)}


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(help_text="The refresh token of the log-in to end.")

    def validate_refresh(self, value: str) -> RefreshToken:
        try:
            token = LoggedOutOrNotRefreshToken(value)
        except TokenError as exc:
            raise serializers.ValidationError(str(exc.args[0])) from exc
        if token.get(jwt_settings.USER_ID_CLAIM) != str(self.context["request"].user.pk):
            raise serializers.ValidationError("This token belongs to another user.")
        return token


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(write_only=True, max_length=4096, style={"input_type": "password"})
    new_password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        request = self.context["request"]
        user = request.user
        # Checked through authenticate(), not user.check_password(): wrong old passwords count
        # towards the account's lock like any other log-in, so a stolen access token is no way to
        # guess the password without limit.
        if authenticate(request, username=user.get_username(), password=attrs["old_password"]) is None:
            if lockout.is_locked_out(request):
                raise lockout.account_locked(username=user.get_username())
            raise serializers.ValidationError(
                {"old_password": ["Your old password was entered incorrectly. Please enter it again."]}
            )
        try:
            validate_password(attrs["new_password"], user=user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"new_password": list(exc.messages)}) from exc
        return attrs

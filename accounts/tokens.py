"""JWT refresh tokens whose log-in has an absolute lifetime.

simplejwt's rotation gives each new refresh token a full REFRESH_TOKEN_LIFETIME from the moment
of the refresh, so a refresh token used once a week never expires. A ``LoginRefreshToken``
remembers when its log-in happened (``auth_time``, the OpenID Connect claim of that name), and
``services.refresh_token_rotate`` keeps that and the expiry: a log-in ends JWT_REFRESH_DAYS after
the password was given, however often it is refreshed.
"""

from typing import Any

from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.models import User

AUTH_TIME_CLAIM = "auth_time"


class LoginRefreshToken(RefreshToken):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.token is None:  # a new log-in (not a token decoded from a request)
            self.payload[AUTH_TIME_CLAIM] = self.payload["iat"]

    @property
    def access_token(self) -> AccessToken:
        access = super().access_token
        # An access token minted near the end of a log-in must not outlive it.
        access["exp"] = min(access["exp"], self["exp"])
        return access


def token_matches_password(token: Token, user: User) -> bool:
    """Whether ``token`` was issued under ``user``'s current password (simplejwt's
    CHECK_REVOKE_TOKEN claim; JWTAuthentication checks it on access tokens itself)."""
    return token.get(api_settings.REVOKE_TOKEN_CLAIM) == get_md5_hash_password(user.password)


class LoggedOutOrNotRefreshToken(LoginRefreshToken):
    """A refresh token checked for everything but the blacklist: what log-out accepts, so that
    logging out twice with one token (a retry after a lost answer) is not an error."""

    def check_blacklist(self) -> None:
        pass

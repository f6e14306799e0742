"""JWT authentication that reads a user from the database at most once per process every
USER_CACHE_SECONDS (docs/adr/0011-user-cached-per-process.md).

Every API request names its user in its access token; looking that user up was one query per
request (about 1 ms of CPU per order, web and database together). A process now keeps the row
it read for a few seconds, and checks it as simplejwt does on every request: a user deactivated
or whose password changed is refused by every process within USER_CACHE_SECONDS, and at once by
the process that changed the password (``forget``).
"""

import copy
import time
from typing import Any

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from accounts.models import User
from accounts.tokens import token_matches_password

USER_CACHE_SECONDS = 5.0
# A bound on what a process keeps: past it, rows older than USER_CACHE_SECONDS are dropped.
MAX_CACHED_USERS = 10_000

_users: dict[str, tuple[float, User]] = {}  # user id (as tokens carry it) -> (when read, the row)


class CachedUserJWTAuthentication(JWTAuthentication):
    # simplejwt annotates get_user with a TypeVar bound to nothing; what it returns is the user.
    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]
        user_id = str(validated_token.get(api_settings.USER_ID_CLAIM))
        now = time.monotonic()
        cached = _users.get(user_id)
        if cached is None or now - cached[0] >= USER_CACHE_SECONDS:
            user = super().get_user(validated_token)  # the query, and simplejwt's checks
            assert isinstance(user, User)  # simplejwt reads AUTH_USER_MODEL
            if len(_users) >= MAX_CACHED_USERS:
                _forget_older_than(now - USER_CACHE_SECONDS)
            _users[user_id] = (now, user)
        else:
            user = cached[1]
            # simplejwt's checks, on the row as read: the token may be another one.
            if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
                raise AuthenticationFailed("User is inactive", code="user_inactive")
            if api_settings.CHECK_REVOKE_TOKEN and not token_matches_password(validated_token, user):
                raise AuthenticationFailed("The user's password has been changed.", code="password_changed")
        # Each request its own copy: a view that changes its user changes no other request's.
        return copy.copy(user)


def forget(user_id: Any) -> None:
    """Read this user from the database on its next request (in this process)."""
    _users.pop(str(user_id), None)


def forget_all() -> None:
    _users.clear()


def _forget_older_than(moment: float) -> None:
    for user_id, (read_at, _) in list(_users.items()):
        if read_at <= moment:
            _users.pop(user_id, None)

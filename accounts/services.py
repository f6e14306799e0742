"""Accounts: registration, log-in bookkeeping, tokens and passwords. Every write to a user
account goes through a function here."""

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from axes.models import AccessAttempt
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import authentication
from accounts.models import User
from accounts.tokens import LoginRefreshToken, token_matches_password

logger = logging.getLogger(__name__)


def user_register(*, username: str, email: str, password: str) -> User:
    """A new customer account; the password has passed Django's validators already."""
    user = User.objects.create_user(username=username, email=email, password=password)
    logger.info("user registered", extra={"user_id": user.pk})
    return user


def user_change_password(*, user: User, new_password: str) -> None:
    """Set ``user``'s password, for a user who gave the old one right (and so has no wrong
    passwords to count any more); the new one has passed Django's validators already.

    Every token issued before stops working, access and refresh alike: each carries a
    fingerprint of the password hash (SIMPLE_JWT CHECK_REVOKE_TOKEN), which no longer matches.
    The same holds for a password set in the admin or with ``manage.py changepassword``."""
    account_login_succeeded(username=user.get_username())
    user.set_password(new_password)
    user.save(update_fields=["password"])
    authentication.forget(user.pk)  # other processes refuse the old tokens within seconds
    logger.info("password changed", extra={"user_id": user.pk})


def user_log_out(*, user: User, refresh: RefreshToken) -> None:
    """End the log-in of ``refresh``, a refresh token of ``user`` whose signature and expiry
    were checked: it is blacklisted, so it is refused from now on. Doing it twice is harmless."""
    refresh.blacklist()
    logger.info("logged out", extra={"user_id": user.pk})


def refresh_token_rotate(*, refresh: LoginRefreshToken) -> LoginRefreshToken:
    """The next refresh token of the same log-in, for a verified (signature, expiry, not
    blacklisted) ``refresh``, which is blacklisted. The new token keeps the log-in time and the
    expiry: rotation never extends a log-in.

    Raises TokenError when the user is gone or inactive, the password changed since the log-in,
    or another request rotated the same token first (two refreshes racing with one stolen
    token must not both get a new one)."""
    user = User.objects.filter(**{jwt_settings.USER_ID_FIELD: refresh[jwt_settings.USER_ID_CLAIM]}).first()
    if user is None or not user.is_active:
        raise TokenError("No active account found for the given token.")
    if not token_matches_password(refresh, user):
        raise TokenError("The user's password has been changed.")
    with transaction.atomic():
        # The blacklist's unique constraint decides between two requests that try at once: one
        # inserts, the other finds the row.
        # simplejwt annotates blacklist() as giving the row; it gives get_or_create's (row, created).
        _, first = cast("tuple[BlacklistedToken, bool]", refresh.blacklist())
        if not first:
            raise TokenError("Token is blacklisted")
        refresh.set_jti()
        refresh.set_iat()
        refresh.outstand()
    return refresh


def tokens_purge_expired(*, now: datetime | None = None) -> int:
    """Forget the refresh tokens whose log-in has ended, and their blacklist entries: an expired
    token is refused for its expiry alone. Without this, every log-in and every refresh would add
    a row for good. Returns how many tokens went."""
    _, deleted = OutstandingToken.objects.filter(expires_at__lte=now or timezone.now()).delete()
    count = deleted.get(OutstandingToken._meta.label, 0)
    logger.info("expired tokens purged", extra={"count": count})
    return count


def account_login_succeeded(*, username: str) -> None:
    """Forget the account's wrong passwords after the right one (AXES_RESET_ON_SUCCESS). Axes
    does this itself for session log-ins, through Django's user_logged_in signal, which API
    log-ins do not send (it would also write last_login on every token)."""
    if settings.AXES_RESET_ON_SUCCESS:
        AccessAttempt.objects.filter(username=username).delete()


def accounts_unlock(*, users: Sequence[User]) -> None:
    """Lift the lock of these accounts (staff, from the admin): their wrong passwords are forgotten."""
    AccessAttempt.objects.filter(username__in=[user.get_username() for user in users]).delete()
    logger.info("accounts unlocked", extra={"user_ids": [user.pk for user in users]})

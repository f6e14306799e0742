"""Account lockout after repeated wrong passwords: django-axes, configured in settings (AXES_*).

Axes counts wrong passwords per account (AXES_LOCKOUT_PARAMETERS = ["username"]) in its
AccessAttempt table, whatever address they come from, through the authentication backend that
settings put first. The log-in forms (/accounts/login/, /admin/login/), the token endpoint and
the password change all check passwords with ``django.contrib.auth.authenticate(request, ...)``,
so all of them count towards one lock, and all of them refuse a locked account, even with the
right password. Staff unlock an account in the admin (Users: "Unlock log-in", or delete its
access attempts).

The forms answer with the page from ``lockout_response`` (AxesMiddleware calls it). The API
answers 429 with Retry-After (``AccountLocked``), raised by the views themselves: DRF hands
axes its own request object, whose lockout flag the middleware never sees.
"""

import ipaddress
import math
from typing import Any, cast

from axes.helpers import get_client_username
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts import selectors


class AccountLocked(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many wrong passwords: this account is locked for a while. Try again later."
    default_code = "account_locked"

    def __init__(self, *, wait: int) -> None:
        super().__init__()
        self.wait = wait  # DRF's exception handler sends it as Retry-After


def is_locked_out(request: Any) -> bool:
    """Whether axes refused (or just locked) the account during this request's authenticate()."""
    return bool(getattr(request, "axes_locked_out", False))


def account_locked(*, username: str) -> AccountLocked:
    return AccountLocked(wait=selectors.account_lockout_seconds(username=username))


def client_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The account a log-in attempt is for, as axes counts it: the username given, cut to the
    255 characters axes stores (no account's name is longer than 150). Django's log-in form does
    not bound the field, and a longer name would fail the insert: a 500 instead of a wrong
    password."""
    given = credentials or getattr(request, "data", request.POST)
    username = given.get("username")
    return username[:255] if isinstance(username, str) else None


def client_address(request: HttpRequest) -> str | None:
    """The client's address as the rate limits see it (DJANGO_NUM_PROXIES), recorded with each
    failure for staff to see; never part of the lock. None unless it is an IP address (the
    column's type)."""
    # DRF's get_ident reads only request.META, which a Django request has too.
    address = BaseThrottle().get_ident(cast(Request, request))
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return None
    return address


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """The log-in forms' answer for a locked account: a page that says so, 429 with Retry-After."""
    wait = selectors.account_lockout_seconds(username=get_client_username(request, credentials) or "")
    response = render(
        request,
        "registration/locked_out.html",
        {"minutes": math.ceil(wait / 60)},
        status=status.HTTP_429_TOO_MANY_REQUESTS,
    )
    response["Retry-After"] = str(wait)
    return response

from django.http import HttpRequest
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from accounts.models import User


def authenticated_user(request: Request | HttpRequest) -> User:
    """The account behind a request that authentication let through: a view's permission
    (IsAuthenticated by default) has refused anonymous callers before its code runs."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated
    return user

"""Sales reads: what the API and admin show, fetched in a fixed number of queries."""

import math

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Max, QuerySet
from django.utils import timezone

from sales.models import Order, Product


def product_list() -> QuerySet[Product]:
    return Product.objects.order_by("sku")


def order_list_for_customer(*, customer: AbstractBaseUser) -> QuerySet[Order]:
    """The customer's own orders, newest first, with their lines."""
    return Order.objects.filter(customer=customer).prefetch_related("lines").order_by("-created_at", "-id")


def order_get_for_user(*, user: AbstractBaseUser, order_id: str) -> Order | None:
    """The order if ``user`` placed it or is staff; None otherwise, so that nobody learns
    whether another customer's order exists."""
    orders = Order.objects.prefetch_related("lines")
    if not user.is_staff:
        orders = orders.filter(customer=user)
    return orders.filter(id=order_id).first()


def account_lockout_seconds(*, username: str) -> int:
    """How long a locked account stays locked, at most: until LOGIN_LOCKOUT_MINUTES after its
    last recorded wrong password (attempts while locked are not recorded, so none extends it)."""
    last = AccessAttempt.objects.filter(username=username).aggregate(last=Max("attempt_time"))["last"]
    ends = (last or timezone.now()) + settings.AXES_COOLOFF_TIME
    return max(1, math.ceil((ends - timezone.now()).total_seconds()))

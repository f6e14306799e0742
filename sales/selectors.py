"""Sales reads: what the API and admin show, fetched in a fixed number of queries."""

from django.db.models import QuerySet

from accounts.models import User
from sales.models import Cancellation, Order, OrderStatus, Product


def product_list() -> QuerySet[Product]:
    return Product.objects.order_by("sku")


def order_list_for_customer(*, customer: User) -> QuerySet[Order]:
    """The customer's own orders, newest first, with their lines."""
    return (
        Order.objects.filter(customer=customer)
        .select_related("cancellation")
        .prefetch_related("lines")
        .order_by("-created_at", "-id")
    )


def _orders_visible_to(user: User) -> QuerySet[Order]:
    """The orders ``user`` may see: their own, or any for staff."""
    return Order.objects.all() if user.is_staff else Order.objects.filter(customer=user)


def order_get_for_user(*, user: User, order_id: str) -> Order | None:
    """The order if ``user`` placed it or is staff; None otherwise, so that nobody learns
    whether another customer's order exists."""
    return _orders_visible_to(user).select_related("cancellation").prefetch_related("lines").filter(id=order_id).first()


def order_visible_to(*, user: User, order_id: str) -> bool:
    """Whether ``user`` may see the order (``order_get_for_user``), in one query and reading nothing."""
    return _orders_visible_to(user).filter(id=order_id).exists()


def order_cancellation(order: Order) -> Cancellation | None:
    """The order's cancellation, or None (from the cache when the order was read with it)."""
    # A missing reverse one-to-one raises RelatedObjectDoesNotExist, an AttributeError.
    return getattr(order, "cancellation", None)


def order_cancellable(order: Order) -> bool:
    """Whether asking to cancel the order would ask delivery: a pending order nobody has asked
    to cancel yet."""
    return order.status == OrderStatus.PENDING_SHIPMENT and order_cancellation(order) is None

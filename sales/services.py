"""Sales business logic. Every write of the sales department goes through a function here."""

import contextlib
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from accounts.models import User
from messaging.outbox import outbox_write
from sales.contracts import OrderCreated, OrderCreatedAddress, OrderCreatedItem
from sales.models import IdempotencyKey, Order, OrderLine, OrderStatus, OrderStatusChange, Product

logger = logging.getLogger(__name__)


# --- Catalogue ------------------------------------------------------------------------------


def product_create(*, sku: str, name: str, price: Decimal, stock_quantity: int, is_active: bool = True) -> Product:
    return Product.objects.create(sku=sku, name=name, price=price, stock_quantity=stock_quantity, is_active=is_active)


def product_update(*, product: Product, **fields: Any) -> Product:
    """Change ``name``, ``price``, ``stock_quantity`` or ``is_active``; the sku is the identity."""
    for name, value in fields.items():
        setattr(product, name, value)
    product.save(update_fields=[*fields, "updated_at"])
    return product


def product_adjust_stock(*, product: Product, by: int) -> bool:
    """Add ``by`` units (remove, if negative) to the stock as it is now, whatever was sold
    meanwhile. False, and nothing changed, if that would take the stock below zero."""
    adjusted = Product.objects.filter(pk=product.pk, stock_quantity__gte=-by).update(
        stock_quantity=F("stock_quantity") + by, updated_at=timezone.now()
    )
    product.refresh_from_db(fields=["stock_quantity", "updated_at"])
    logger.info("stock adjusted", extra={"sku": product.sku, "by": by, "done": bool(adjusted)})
    return bool(adjusted)


# --- Placing orders -------------------------------------------------------------------------


@dataclass(frozen=True)
class LineRequest:
    sku: str
    quantity: int


@dataclass(frozen=True)
class ShippingAddress:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str = ""


@dataclass(frozen=True)
class UnavailableLine:
    sku: str
    requested: int
    available: int


class UnknownProducts(Exception):
    def __init__(self, skus: Sequence[str]) -> None:
        super().__init__(f"Unknown products: {', '.join(skus)}")
        self.skus = list(skus)


class ProductsUnavailable(Exception):
    def __init__(self, lines: Sequence[UnavailableLine]) -> None:
        super().__init__(f"Not available: {', '.join(line.sku for line in lines)}")
        self.lines = list(lines)


class AmountsTooLarge(Exception):
    """Price x quantity of some lines (``skus``), or else the order's ``total``, is more than
    the columns hold."""

    def __init__(self, *, skus: Sequence[str], total: Decimal) -> None:
        super().__init__(f"Amounts too large: total {total}, lines {', '.join(skus) or 'none'}")
        self.skus = list(skus)
        self.total = total


def _largest_amount(model: type[models.Model], field_name: str) -> Decimal:
    field = model._meta.get_field(field_name)
    assert isinstance(field, models.DecimalField)
    return Decimal(10) ** (field.max_digits - field.decimal_places) - Decimal(10) ** -field.decimal_places


# A price can be 99,999,999.99 and a quantity 1000: their product does not fit the columns
# (PostgreSQL refuses it with "numeric field overflow"), so the amounts are checked first.
LINE_TOTAL_MAX = _largest_amount(OrderLine, "line_total")
ORDER_TOTAL_MAX = _largest_amount(Order, "total")


def order_place(
    *,
    customer: User,
    lines: Sequence[LineRequest],
    shipping_address: ShippingAddress,
    claimed_key: IdempotencyKey | None = None,
) -> Order:
    """Take the stock and create the order, all in one transaction, or change nothing.

    Preconditions: ``lines`` is not empty and names each sku once (the API validates both).
    Raises UnknownProducts, AmountsTooLarge or ProductsUnavailable, after which nothing is
    stored and no stock taken. A ``claimed_key`` (``order_place_idempotently`` claims it) is
    completed in the same transaction, so a crash can never leave an order whose key would let
    a retry place a second one; should another request have taken the key over meanwhile, this
    raises IdempotencyKeyInProgress and the order is rolled back.
    """
    skus = sorted(line.sku for line in lines)
    with transaction.atomic():
        # Lock the rows in sku order: two orders for the same products queue up instead of
        # deadlocking. The rows also give us names and prices for the lines.
        products = {
            product.sku: product for product in Product.objects.select_for_update().filter(sku__in=skus).order_by("sku")
        }
        unknown = [line.sku for line in lines if line.sku not in products]
        if unknown:
            raise UnknownProducts(unknown)
        line_totals = {line.sku: products[line.sku].price * line.quantity for line in lines}
        total = sum(line_totals.values(), Decimal("0.00"))
        too_large = [sku for sku, line_total in line_totals.items() if line_total > LINE_TOTAL_MAX]
        if too_large or total > ORDER_TOTAL_MAX:
            raise AmountsTooLarge(skus=too_large, total=total)

        # The check and the decrement are one conditional write: a row is updated only if
        # it is active and has enough stock, whatever else is running.
        wanted = Case(*(When(sku=line.sku, then=Value(line.quantity)) for line in lines))
        taken = Product.objects.filter(sku__in=skus, is_active=True, stock_quantity__gte=wanted).update(
            stock_quantity=F("stock_quantity") - wanted, updated_at=timezone.now()
        )
        if taken != len(lines):
            raise ProductsUnavailable(_unavailable_lines(lines, products))

        order_lines = [
            OrderLine(
                product=products[line.sku],
                sku=line.sku,
                name=products[line.sku].name,
                quantity=line.quantity,
                unit_price=products[line.sku].price,
                line_total=line_totals[line.sku],
            )
            for line in lines
        ]
        order = Order.objects.create(
            customer=customer,
            total=total,
            shipping_name=shipping_address.name,
            shipping_line1=shipping_address.line1,
            shipping_line2=shipping_address.line2,
            shipping_city=shipping_address.city,
            shipping_postal_code=shipping_address.postal_code,
            shipping_country=shipping_address.country,
        )
        for order_line in order_lines:
            order_line.order = order
        OrderLine.objects.bulk_create(order_lines)
        OrderStatusChange.objects.create(
            order=order,
            from_status="",
            to_status=OrderStatus.PENDING_SHIPMENT,
            source="api",
            reason="order placed",
            occurred_at=order.created_at,
        )
        outbox_write(app_label="sales", message=_order_created(order, order_lines))
        if claimed_key is not None:
            _idempotency_key_complete(record=claimed_key, response_status=201, order_id=order.id)
    _remember_lines(order, order_lines)
    logger.info("order placed", extra={"order_id": order.id, "lines": len(order_lines), "total": str(order.total)})
    return order


def _remember_lines(order: Order, lines: list[OrderLine]) -> None:
    """The caller shows the new order with its lines: fill ``order.lines`` as a prefetch would,
    with the rows just written, rather than read them back (one query less per order)."""
    queryset = order.lines.all()
    queryset._result_cache = list(lines)
    # Django's prefetch cache has no public setter (nor a type for these attributes).
    queryset._prefetch_done = True  # type: ignore[attr-defined]
    order._prefetched_objects_cache = {"lines": queryset}  # type: ignore[attr-defined]


def _order_created(order: Order, lines: Sequence[OrderLine]) -> OrderCreated:
    return OrderCreated(
        order_id=order.id,
        items=tuple(OrderCreatedItem(sku=line.sku, name=line.name, quantity=line.quantity) for line in lines),
        shipping_address=OrderCreatedAddress(**order.shipping_address),
        created_at=order.created_at.isoformat(),
    )


def _unavailable_lines(lines: Sequence[LineRequest], products: dict[str, Product]) -> list[UnavailableLine]:
    # The rows are still locked by this transaction, so these figures are the current ones.
    result = []
    for line in lines:
        product = products[line.sku]
        available = product.stock_quantity if product.is_active else 0
        if available < line.quantity:
            result.append(UnavailableLine(sku=line.sku, requested=line.quantity, available=available))
    return result


# --- Order status ---------------------------------------------------------------------------

_STATUS_RANK = {OrderStatus.PENDING_SHIPMENT: 0, OrderStatus.SHIPPED: 1, OrderStatus.DELIVERED: 2}


def order_status_advance(
    *, order_id: str, status: str, occurred_at: datetime, source: str, reason: str = ""
) -> OrderStatusChange | None:
    """Move an order forward to ``status`` (shipped or delivered) and record the step.

    Status only moves forward: a late or repeated update changes nothing and returns None.
    A "delivered" that arrives before "shipped" moves the order straight to delivered and
    sets both times. Raises Order.DoesNotExist for an unknown order. Runs in its own
    transaction, or in the caller's when there is one (a message consumer records its
    inbox row in the same transaction). It takes no savepoint there: an error leaves the
    caller's transaction to be rolled back, as a consumer does on any error.
    """
    target = OrderStatus(status)
    if target == OrderStatus.PENDING_SHIPMENT:
        raise ValueError("An order cannot be moved back to pending shipment.")
    with transaction.atomic(savepoint=False):
        order = Order.objects.select_for_update().get(id=order_id)
        if _STATUS_RANK[OrderStatus(order.status)] >= _STATUS_RANK[target]:
            return None
        change = OrderStatusChange.objects.create(
            order=order,
            from_status=order.status,
            to_status=target,
            source=source,
            reason=reason,
            occurred_at=occurred_at,
        )
        order.status = target
        order.shipped_at = order.shipped_at or occurred_at
        if target == OrderStatus.DELIVERED:
            order.delivered_at = occurred_at
        order.save(update_fields=["status", "shipped_at", "delivered_at", "updated_at"])
    logger.info(
        "order status changed",
        extra={"order_id": order_id, "from": change.from_status, "to": str(target), "source": source},
    )
    return change


# --- Placing an order with an Idempotency-Key ----------------------------------------------


class IdempotencyKeyInProgress(Exception):
    """Another request with the same key is still running."""


class IdempotencyKeyMismatch(Exception):
    """The key was first used with a different request body."""


@dataclass(frozen=True)
class OrderPlacement:
    """What a request to place an order came to, as its Idempotency-Key remembers it: the order
    placed, or else the lines it was refused for want of stock. ``replayed``: this is the answer
    to the key's first request, given again; this request changed nothing."""

    order: Order | None = None
    unavailable: tuple[UnavailableLine, ...] = ()
    replayed: bool = False


def request_fingerprint(body: Any) -> str:
    """What a retry must send again to get the first answer: the request body as sent (ignored
    fields, and the spelling of what validation normalises, included)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def order_place_idempotently(
    *,
    customer: User,
    lines: Sequence[LineRequest],
    shipping_address: ShippingAddress,
    idempotency_key: str | None,
    request_body: Any,
) -> OrderPlacement:
    """Place an order (``order_place``, same preconditions) for a request that may carry an
    Idempotency-Key: a retry with the same key and ``request_body`` gets the first request's
    answer again, and no second order.

    The key is claimed in a transaction of its own, committed before the order's, so that a
    second request with it sees it at once. The order's transaction completes it. A refusal for
    want of stock completes it too, in a transaction of its own: the retry is refused the same
    way, whatever the stock is by then. Any other outcome (UnknownProducts, AmountsTooLarge, an
    error: the database away or timing out) releases the key for a retry and is raised again.
    A claim whose release failed (the database away) is taken over by a retry after
    IDEMPOTENCY_KEY_LOCK_TIMEOUT. Without a key, this is ``order_place``, with the refusal
    for want of stock returned instead of raised.

    Raises IdempotencyKeyMismatch when the key was used with another body, and
    IdempotencyKeyInProgress while a request with it is running (this one's key taken over by
    another meanwhile included).
    """
    record = None
    if idempotency_key is not None:
        record = _idempotency_key_claim(
            user=customer, key=idempotency_key, fingerprint=request_fingerprint(request_body)
        )
        if record.state == IdempotencyKey.State.COMPLETED:
            return _replay(record)
    try:
        order = order_place(customer=customer, lines=lines, shipping_address=shipping_address, claimed_key=record)
    except ProductsUnavailable as exc:
        if record is not None:
            # Should another request have taken the key over meanwhile, it answers for it.
            with contextlib.suppress(IdempotencyKeyInProgress):
                _idempotency_key_complete(
                    record=record,
                    response_status=409,
                    response_body={"unavailable": [asdict(line) for line in exc.lines]},
                )
        return OrderPlacement(unavailable=tuple(exc.lines))
    except IdempotencyKeyInProgress:  # taken over: the key is the other request's now
        raise
    except Exception:
        if record is not None:
            _idempotency_key_release(record=record)
        raise
    return OrderPlacement(order=order)


def _replay(record: IdempotencyKey) -> OrderPlacement:
    """The answer a completed key remembers: its order as it is now, or its refusal."""
    if record.order_id:
        return OrderPlacement(order=Order.objects.prefetch_related("lines").get(id=record.order_id), replayed=True)
    unavailable = tuple(UnavailableLine(**line) for line in (record.response_body or {})["unavailable"])
    return OrderPlacement(unavailable=unavailable, replayed=True)


def _idempotency_key_claim(*, user: User, key: str, fingerprint: str) -> IdempotencyKey:
    """Claim ``key`` for a request, or return the completed record of its first use.

    Raises IdempotencyKeyMismatch when the key was used with another body, and
    IdempotencyKeyInProgress while the first request still runs. A key whose request died
    (left in progress past IDEMPOTENCY_KEY_LOCK_TIMEOUT) is taken over.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(user=user, key=key, request_fingerprint=fingerprint, locked_at=now)
    except IntegrityError:
        pass
    record = IdempotencyKey.objects.filter(user=user, key=key).first()
    if record is None:  # released between our insert and this read: the other request failed
        raise IdempotencyKeyInProgress()
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyMismatch()
    if record.state == IdempotencyKey.State.COMPLETED:
        return record
    taken_over = IdempotencyKey.objects.filter(
        pk=record.pk,
        state=IdempotencyKey.State.IN_PROGRESS,
        locked_at__lt=now - settings.IDEMPOTENCY_KEY_LOCK_TIMEOUT,
    ).update(locked_at=now)
    if not taken_over:
        raise IdempotencyKeyInProgress()
    record.locked_at = now
    return record


def _idempotency_key_complete(
    *, record: IdempotencyKey, response_status: int, response_body: Any = None, order_id: str = ""
) -> None:
    """Store the answer of the request holding ``record``.

    Raises IdempotencyKeyInProgress if another request has taken the key over meanwhile;
    called inside ``order_place``'s transaction, that rolls the order back.
    """
    completed = IdempotencyKey.objects.filter(
        pk=record.pk, state=IdempotencyKey.State.IN_PROGRESS, locked_at=record.locked_at
    ).update(
        state=IdempotencyKey.State.COMPLETED,
        response_status=response_status,
        response_body=response_body,
        order_id=order_id,
    )
    if not completed:
        raise IdempotencyKeyInProgress()
    record.state = IdempotencyKey.State.COMPLETED
    record.response_status = response_status
    record.response_body = response_body
    record.order_id = order_id


def _idempotency_key_release(*, record: IdempotencyKey) -> None:
    """Forget a claim whose request stored nothing (bad input, a crash): the key is free again."""
    IdempotencyKey.objects.filter(
        pk=record.pk, state=IdempotencyKey.State.IN_PROGRESS, locked_at=record.locked_at
    ).delete()


def idempotency_keys_purge(*, now: datetime | None = None) -> int:
    """Delete the keys older than IDEMPOTENCY_KEY_TTL; returns how many went."""
    cutoff = (now or timezone.now()) - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    logger.info("idempotency keys purged", extra={"count": deleted})
    return deleted

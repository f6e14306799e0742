"""Sales business logic. Every write of the sales department goes through a function here."""

import contextlib
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from accounts.models import User
from core import metrics
from messaging.outbox import outbox_write
from sales.contracts import OrderCancellationRequested, OrderCreated, OrderCreatedAddress, OrderCreatedItem
from sales.models import (
    Cancellation,
    CancellationState,
    IdempotencyKey,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    Product,
)
from sales.selectors import order_cancellable, order_cancellation

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


# On PostgreSQL an order is placed with the two statements below, written out by hand: the
# ORM's seven cost the web process 2.5 ms more CPU per order (docs/adr/0013). Every value goes
# as a parameter. Other databases (``make run``'s SQLite file) get the ORM's statements.

# Lock the order's products in sku order, so that two orders naming the same products queue up
# instead of deadlocking, and read what the checks and the lines need.
_PRODUCTS_LOCK = """
SELECT sku, id, name, price, stock_quantity, is_active
FROM sales_product
WHERE sku = ANY(%s)
ORDER BY sku
FOR UPDATE
"""

# Take the stock and write the order, its lines and the first step of its history, in one
# statement. Its parts run on one snapshot and in no set order, so none reads another's rows:
# each is fed by the RETURNING of the part it follows. The products are locked already.
_ORDER_WRITE = """
WITH wanted AS (  -- the lines, in the order asked
    SELECT *
    FROM unnest(%(product_ids)s::bigint[], %(skus)s::text[], %(names)s::text[], %(quantities)s::integer[],
                %(unit_prices)s::numeric[], %(line_totals)s::numeric[])
         WITH ORDINALITY AS line (product_id, sku, name, quantity, unit_price, line_total, position)
),
taken AS (  -- the conditional decrement: a row changes only if it is active and has enough
            -- stock as it is now, whatever else runs
    UPDATE sales_product AS product
    SET stock_quantity = product.stock_quantity - wanted.quantity, updated_at = %(now)s
    FROM wanted
    WHERE product.id = wanted.product_id AND product.is_active AND product.stock_quantity >= wanted.quantity
    RETURNING product.id
),
placed AS (  -- the order, only if every line was taken (if not, the caller rolls back the
             -- stock taken); without it nothing below is written
    INSERT INTO sales_order (id, customer_id, status, total, shipping_name, shipping_line1, shipping_line2,
                             shipping_city, shipping_postal_code, shipping_country, created_at, updated_at)
    SELECT %(order_id)s, %(customer_id)s, %(status)s, %(total)s, %(shipping_name)s, %(shipping_line1)s,
           %(shipping_line2)s, %(shipping_city)s, %(shipping_postal_code)s, %(shipping_country)s, %(now)s, %(now)s
    WHERE (SELECT count(*) FROM taken) = (SELECT count(*) FROM wanted)
    RETURNING id
),
lines AS (  -- numbered in the order asked, which is the order they are read back in
    INSERT INTO sales_orderline (order_id, product_id, sku, name, quantity, unit_price, line_total)
    SELECT placed.id, wanted.product_id, wanted.sku, wanted.name, wanted.quantity, wanted.unit_price,
           wanted.line_total
    FROM placed, wanted
    ORDER BY wanted.position
    RETURNING id, sku
),
first_step AS (
    INSERT INTO sales_orderstatuschange (order_id, from_status, to_status, source, reason, occurred_at, recorded_at)
    SELECT placed.id, '', %(status)s, %(source)s, %(reason)s, %(now)s, %(now)s
    FROM placed
)
SELECT (SELECT count(*) FROM taken), array_agg(lines.sku), array_agg(lines.id) FROM lines
"""

# Who and why, in the first step of every order's history.
_FIRST_STEP = {"source": "api", "reason": "order placed"}


class _LockedProduct(NamedTuple):
    sku: str
    id: int
    name: str
    price: Decimal
    stock_quantity: int
    is_active: bool


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
    on_postgresql = connection.vendor == "postgresql"
    with transaction.atomic():
        products = _products_lock(skus=[line.sku for line in lines], on_postgresql=on_postgresql)
        unknown = [line.sku for line in lines if line.sku not in products]
        if unknown:
            raise UnknownProducts(unknown)
        line_totals = {line.sku: products[line.sku].price * line.quantity for line in lines}
        total = sum(line_totals.values(), Decimal("0.00"))
        too_large = [sku for sku, line_total in line_totals.items() if line_total > LINE_TOTAL_MAX]
        if too_large or total > ORDER_TOTAL_MAX:
            raise AmountsTooLarge(skus=too_large, total=total)

        now = timezone.now()  # once the locks are ours: orders are stamped in the order they are placed
        order = Order(
            customer=customer,
            total=total,
            shipping_name=shipping_address.name,
            shipping_line1=shipping_address.line1,
            shipping_line2=shipping_address.line2,
            shipping_city=shipping_address.city,
            shipping_postal_code=shipping_address.postal_code,
            shipping_country=shipping_address.country,
            created_at=now,
            updated_at=now,
        )
        order_lines = [
            OrderLine(
                order=order,
                product_id=products[line.sku].id,
                sku=line.sku,
                name=products[line.sku].name,
                quantity=line.quantity,
                unit_price=products[line.sku].price,
                line_total=line_totals[line.sku],
            )
            for line in lines
        ]
        order_write = _order_write if on_postgresql else _order_write_with_orm
        if not order_write(order=order, lines=order_lines):
            raise ProductsUnavailable(_unavailable_lines(lines, products))
        outbox_write(app_label="sales", message=_order_created(order, order_lines))
        if claimed_key is not None:
            _idempotency_key_complete(record=claimed_key, response_status=201, order_id=order.id)
    _remember_new(order, order_lines)
    logger.info("order placed", extra={"order_id": order.id, "lines": len(order_lines), "total": str(order.total)})
    return order


def _products_lock(*, skus: list[str], on_postgresql: bool) -> dict[str, _LockedProduct]:
    """The products named by ``skus``, locked in sku order until the transaction ends."""
    if on_postgresql:
        with connection.cursor() as cursor:
            cursor.execute(_PRODUCTS_LOCK, [skus])
            rows = cursor.fetchall()
    else:
        locked = Product.objects.select_for_update().filter(sku__in=skus).order_by("sku")
        rows = list(locked.values_list(*_LockedProduct._fields))
    return {row[0]: _LockedProduct(*row) for row in rows}


def _order_write(*, order: Order, lines: list[OrderLine]) -> bool:
    """Take the stock of ``lines`` and store ``order`` with them, in one statement
    (``_ORDER_WRITE``); or, if a line cannot be taken, store nothing and return False (the stock
    of the other lines is taken: roll the transaction back). Call with the products locked."""
    with connection.cursor() as cursor:
        cursor.execute(
            _ORDER_WRITE,
            {
                "product_ids": [line.product_id for line in lines],
                "skus": [line.sku for line in lines],
                "names": [line.name for line in lines],
                "quantities": [line.quantity for line in lines],
                "unit_prices": [line.unit_price for line in lines],
                "line_totals": [line.line_total for line in lines],
                "now": order.created_at,
                "order_id": order.id,
                "customer_id": order.customer_id,
                "status": order.status,
                "total": order.total,
                "shipping_name": order.shipping_name,
                "shipping_line1": order.shipping_line1,
                "shipping_line2": order.shipping_line2,
                "shipping_city": order.shipping_city,
                "shipping_postal_code": order.shipping_postal_code,
                "shipping_country": order.shipping_country,
                **_FIRST_STEP,
            },
        )
        taken, skus, ids = cursor.fetchone()
    if taken != len(lines):
        return False
    line_ids = dict(zip(skus, ids, strict=True))
    for line in lines:
        line.id = line_ids[line.sku]
    for row in [order, *lines]:  # as the ORM leaves the rows it writes
        row._state.adding = False
        row._state.db = connection.alias
    return True


def _order_write_with_orm(*, order: Order, lines: list[OrderLine]) -> bool:
    """``_order_write`` with the ORM's statements, one by one, for the databases other than
    PostgreSQL (a local run's SQLite file, which has one writer at a time)."""
    wanted = Case(*(When(pk=line.product_id, then=Value(line.quantity)) for line in lines))
    taken = Product.objects.filter(
        pk__in=[line.product_id for line in lines], is_active=True, stock_quantity__gte=wanted
    ).update(stock_quantity=F("stock_quantity") - wanted, updated_at=order.created_at)
    if taken != len(lines):
        return False
    order.save(force_insert=True)
    OrderLine.objects.bulk_create(lines)
    OrderStatusChange.objects.create(
        order=order, from_status="", to_status=order.status, occurred_at=order.created_at, **_FIRST_STEP
    )
    return True


def _remember_new(order: Order, lines: list[OrderLine]) -> None:
    """The caller shows the new order with its lines: fill ``order.lines`` as a prefetch would,
    with the rows just written, rather than read them back (one query less per order), and its
    cancellation as a select_related would (none)."""
    Order.cancellation.related.set_cached_value(order, None)
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


def _unavailable_lines(lines: Sequence[LineRequest], products: dict[str, _LockedProduct]) -> list[UnavailableLine]:
    # The rows are still locked by this transaction, so these figures are the current ones.
    result = []
    for line in lines:
        product = products[line.sku]
        available = product.stock_quantity if product.is_active else 0
        if available < line.quantity:
            result.append(UnavailableLine(sku=line.sku, requested=line.quantity, available=available))
    return result


# --- Order status ---------------------------------------------------------------------------

# "cancelled" ranks above every status delivery reports: it is final.
_STATUS_RANK = {
    OrderStatus.PENDING_SHIPMENT: 0,
    OrderStatus.SHIPPED: 1,
    OrderStatus.DELIVERED: 2,
    OrderStatus.CANCELLED: 3,
}


def order_status_advance(
    *, order_id: str, status: str, occurred_at: datetime, source: str, reason: str = ""
) -> OrderStatusChange | None:
    """Move an order forward to ``status`` (shipped or delivered) and record the step.

    Status only moves forward: a late or repeated update changes nothing and returns None, and
    neither does any update of a cancelled order.
    A "delivered" that arrives before "shipped" moves the order straight to delivered and
    sets both times. Raises Order.DoesNotExist for an unknown order. Runs in its own
    transaction, or in the caller's when there is one (a message consumer records its
    inbox row in the same transaction). It takes no savepoint there: an error leaves the
    caller's transaction to be rolled back, as a consumer does on any error.
    """
    target = OrderStatus(status)
    if target not in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        raise ValueError(f"A delivery update cannot move an order to {target}.")
    with transaction.atomic(savepoint=False):
        order = Order.objects.select_for_update().get(id=order_id)
        if _STATUS_RANK[OrderStatus(order.status)] >= _STATUS_RANK[target]:
            return None
        change = _history_record(order, to_status=target, source=source, reason=reason, at=occurred_at)
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


# --- Cancelling orders ----------------------------------------------------------------------


class OrderAlreadyShipped(Exception):
    """Sales knows the parcel has left: the order shipped or was delivered, or delivery refused
    an earlier request to cancel it."""


class CancellationConflict(Exception):
    """Delivery's decision contradicts what sales knows (accepted for an order that shipped, or
    an answer that changed): never applied, kept as a dead letter for staff to look at."""


@dataclass(frozen=True)
class CancelRequest:
    order: Order  # with its lines and cancellation
    opened: bool  # this call asked delivery; False: a request was open already, or the order is cancelled


def order_cancel_request(*, order_id: str, requested_by: User, source: str, reason: str = "") -> CancelRequest:
    """Ask delivery to cancel an order: record the request, and in the same transaction the
    message that asks delivery (sales cannot cancel alone: the parcel may be leaving). The status
    does not change until delivery answers (``order_cancellation_decide``).

    Harmless to repeat: while a request is open, or once the order is cancelled, nothing changes
    (``opened`` is False). Raises OrderAlreadyShipped when sales
    knows the parcel has left, Order.DoesNotExist for an unknown id. Whether ``requested_by``
    may cancel the order is the caller's to check.
    """
    with transaction.atomic():
        order = _order_lock_with_cancellation(order_id)
        cancellation = order_cancellation(order)
        if order.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED) or (
            cancellation is not None and cancellation.state == CancellationState.REFUSED
        ):
            raise OrderAlreadyShipped()
        opened = order_cancellable(order)
        if opened:
            now = timezone.now()
            order.cancellation = Cancellation.objects.create(
                order=order, reason=reason, requested_by=requested_by, source=source, requested_at=now
            )
            _history_record(order, to_status=order.status, source=source, reason="cancellation requested", at=now)
            outbox_write(
                app_label="sales",
                message=OrderCancellationRequested(order_id=order.id, requested_at=now.isoformat(), reason=reason),
            )
            transaction.on_commit(metrics.ORDER_CANCELLATIONS_REQUESTED.labels(source=source).inc)
    if opened:
        logger.info("order cancellation requested", extra={"order_id": order.id, "source": source})
    models.prefetch_related_objects([order], "lines")
    return CancelRequest(order=order, opened=opened)


def order_cancellation_decide(
    *, order_id: str, accepted: bool, decided_at: datetime, source: str, reason: str = ""
) -> bool:
    """Apply delivery's decision on cancelling an order, once; True if it changed anything.

    Accepted: the order becomes cancelled (``cancelled_at`` = ``decided_at``) and every line's
    quantity goes back on its product's stock. Refused: the cancellation is refused and the
    order carries on to shipped and delivered. A decision already applied changes nothing, so
    the stock comes back exactly once however often it arrives. Raises CancellationConflict for
    a decision that contradicts an earlier one or the order's status, Order.DoesNotExist for an
    unknown order. Runs in the caller's transaction when there is one (a consumer records its
    inbox row in it), without a savepoint, like ``order_status_advance``.
    """
    wanted = CancellationState.ACCEPTED if accepted else CancellationState.REFUSED
    with transaction.atomic(savepoint=False):
        order = _order_lock_with_cancellation(order_id)
        cancellation = order_cancellation(order)
        if cancellation is not None and cancellation.state == wanted:
            return False
        if cancellation is not None and cancellation.state != CancellationState.REQUESTED:
            raise CancellationConflict(f"{order_id}: cancellation {cancellation.state}, now {wanted}")
        if accepted and order.status != OrderStatus.PENDING_SHIPMENT:
            raise CancellationConflict(f"{order_id}: cancellation accepted for an order {order.status}")
        if cancellation is None:  # delivery cancelled a shipment sales never asked about: it
            # will never ship, so the order is cancelled all the same (source: delivery)
            cancellation = Cancellation(order=order, source=source, requested_at=decided_at)
        cancellation.state, cancellation.decided_at = wanted, decided_at
        cancellation.save()
        if accepted:
            _order_cancel(order, at=decided_at, source=source, reason=reason)
        else:
            refused = _why("cancellation refused", reason)
            _history_record(order, to_status=order.status, source=source, reason=refused, at=decided_at)
    counter = metrics.ORDERS_CANCELLED if accepted else metrics.ORDER_CANCELLATIONS_REFUSED
    transaction.on_commit(counter.inc)
    logger.info("order cancellation decided", extra={"order_id": order_id, "decision": str(wanted)})
    return True


def _order_cancel(order: Order, *, at: datetime, source: str, reason: str) -> None:
    """Cancel a pending order and put its lines' quantities back on stock: the products in sku
    order, the order placement's lock order, so that the two never deadlock."""
    restocked_at = timezone.now()  # the products' own time, not delivery's decision's
    for line in sorted(order.lines.all(), key=lambda line: line.sku):
        Product.objects.filter(pk=line.product_id).update(
            stock_quantity=F("stock_quantity") + line.quantity, updated_at=restocked_at
        )
    accepted = _why("cancellation accepted", reason)
    _history_record(order, to_status=OrderStatus.CANCELLED, source=source, reason=accepted, at=at)
    order.status, order.cancelled_at = OrderStatus.CANCELLED, at
    order.save(update_fields=["status", "cancelled_at", "updated_at"])


def _order_lock_with_cancellation(order_id: str) -> Order:
    """The order, locked until the transaction ends, with its cancellation as it is once the lock
    is ours. Every write of a cancellation holds its order's lock, so the cancellation is read in
    a statement of its own after the lock: a statement that waited for the lock still returns
    the rows of the moment it started, and would miss a cancellation made meanwhile."""
    order = Order.objects.select_for_update().get(id=order_id)
    Order.cancellation.related.set_cached_value(order, Cancellation.objects.filter(order=order).first())
    return order


def _why(what: str, detail: str) -> str:
    return f"{what}; {detail}" if detail else what


def _history_record(order: Order, *, to_status: str, source: str, reason: str, at: datetime) -> OrderStatusChange:
    """A step of the order's history, from its status as it is now."""
    return OrderStatusChange.objects.create(
        order=order, from_status=order.status, to_status=to_status, source=source, reason=reason[:200], occurred_at=at
    )


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
        return OrderPlacement(
            order=Order.objects.select_related("cancellation").prefetch_related("lines").get(id=record.order_id),
            replayed=True,
        )
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

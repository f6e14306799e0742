"""Chaos soak: load for a bounded time while things break, then prove nothing was lost or doubled.

    scripts/soak.sh [--seconds 120] [--clients 4] [--every 15] [--cancel-share 0.1] [--database soak]

Customers keep placing orders, a clerk keeps shipping what is pending and a share of the orders
(``--cancel-share``) is cancelled through the API, while, in turn every ``--every`` seconds, the
workers are killed with SIGKILL (and restarted), Redis is killed and restarted empty, and the
outbox relay is stopped (and started again at the next turn). Then it waits for convergence and
checks, from the databases, that every accepted order has exactly one shipment, every clerk
change reached sales exactly once, no message is left pending, abandoned or dead-lettered, every
cancellation was decided (accepted: order and shipment cancelled, never shipped; refused: both
shipped), and every product's stock is its initial stock less the units of the orders not
cancelled. It prints the counts and the time to converge, and exits non-zero on any loss,
duplicate or broken invariant. A short version runs in the test suite
(tests/integration/test_soak.py).
"""

import argparse
import asyncio
import datetime
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from load.bench import Results, http_post, keep_placing, post_all, prepare_database, setup_django

# An order's transaction may commit this long after the time it was stamped with: the canceller
# looks that far back for orders it has not seen yet.
COMMIT_LAG = 5.0  # seconds


def soak(
    stack,
    *,
    seconds: float,
    clients: int,
    every: float,
    tokens: list[str],
    clerk_token: str,
    staff_token: str,
    body,
    cancel_share: float = 0.1,
    min_faults: int = 0,
) -> dict:
    """Run the load and the faults against a started ``stack``; return the figures, with the
    stock of every product before the first order (``initial_stock``, for ``check``). The load
    goes on past ``seconds`` (by 2 s steps, 60 s at most) until ``min_faults`` have happened.

    Each order placed is picked with probability ``cancel_share`` and cancelled once, by staff
    (``staff_token``): half of those picked at a random moment up to about a second after being
    placed, when delivery may or may not have shipped them yet (accepted, or refused), the others
    as soon as the clerk has shipped them, when sales may or may not know it yet (refused, or
    409), or, if the clerk has not by then, at a random moment between a second after being
    placed and the end of the load (the clerk ships fewer orders than are placed, oldest first).
    Picked orders not yet asked about when the load ends are asked about then."""
    from django.db import connection
    from django.utils import timezone

    from delivery.models import Shipment
    from sales.models import Order, Product

    faults: list[str] = []
    stop = threading.Event()
    initial_stock = dict(Product.objects.values_list("sku", "stock_quantity"))
    placing_from, load_ends = timezone.now(), time.monotonic() + seconds

    def break_things() -> None:
        turn = 0
        while not stop.wait(every):
            action = ("kill worker", "restart redis empty", "stop relay")[turn % 3]
            if action == "kill worker":
                stack.kill_workers()
                stack.start_workers()
            elif action == "restart redis empty":
                stack.kill("redis")
                stack.start_redis()
            elif "relay" in stack.processes:
                stack.kill("relay")
            faults.append(action)
            if "relay" not in stack.processes and action != "stop relay":
                stack.start_relay()
            turn += 1

    def ship_pending() -> None:
        try:
            while not stop.is_set():
                pending = list(Shipment.objects.filter(status="pending").values_list("id", flat=True)[:20])
                raws = [http_post(f"/api/delivery/shipments/{sid}/ship/", clerk_token, {}) for sid in pending]
                asyncio.run(post_all(stack.web_port, raws, 2))
                stop.wait(0.5)
        finally:
            connection.close()

    # Staff, not the customers, ask: the customers' own request budget (THROTTLE_USER) is spent by
    # the load, 429s included, and a cancellation refused by the throttle would test nothing.
    cancellations = Results()
    rng = random.Random()

    def cancel_some() -> None:
        seen: set[str] = set()
        newest = placing_from
        asks: dict[str, float] = {}  # order id: when to ask at the latest (monotonic)
        once_shipped: set[str] = set()  # of those, the ones to ask as soon as the clerk has shipped them
        try:
            while True:
                last_look = stop.is_set()  # set after the last order was answered: this look sees all
                now = time.monotonic()
                for order_id, created_at in Order.objects.filter(
                    created_at__gte=newest - datetime.timedelta(seconds=COMMIT_LAG)
                ).values_list("id", "created_at"):
                    if order_id in seen:
                        continue
                    seen.add(order_id)
                    newest = max(newest, created_at)
                    if rng.random() >= cancel_share:
                        continue
                    if rng.random() < 0.5:
                        asks[order_id] = now + rng.uniform(0, 1)
                    else:
                        asks[order_id] = now + rng.uniform(1, max(1.0, load_ends - now))
                        once_shipped.add(order_id)
                shipped = set(
                    Shipment.objects.filter(order_id__in=once_shipped, status="shipped").values_list(
                        "order_id", flat=True
                    )
                )
                due = [order_id for order_id, at in asks.items() if at <= now or order_id in shipped or last_look]
                for order_id in due:
                    del asks[order_id]
                    once_shipped.discard(order_id)
                raws = [http_post(f"/api/orders/{oid}/cancel/", staff_token, {"reason": "soak"}) for oid in due]
                for code, n in asyncio.run(post_all(stack.web_port, raws, 2)).codes.items():
                    cancellations.codes[code] = cancellations.codes.get(code, 0) + n
                if last_look:
                    return
                stop.wait(0.25)
        finally:
            connection.close()

    results = Results()
    breaker = threading.Thread(target=break_things, daemon=True)
    clerk = threading.Thread(target=ship_pending, daemon=True)
    canceller = threading.Thread(target=cancel_some, daemon=True)
    breaker.start()
    clerk.start()
    canceller.start()
    raws = [http_post("/api/orders/", tokens[i % len(tokens)], body(i)) for i in range(clients)]
    asyncio.run(keep_placing(stack.web_port, raws, seconds, results))
    extra = 0
    while len(faults) < min_faults and extra < 60:
        asyncio.run(keep_placing(stack.web_port, raws, 2, results))
        extra += 2
    stop.set()
    breaker.join(timeout=60)
    clerk.join(timeout=60)
    canceller.join(timeout=120)
    if "relay" not in stack.processes:
        stack.start_relay()
    return {
        "faults": faults,
        "codes": {str(k): v for k, v in sorted(results.codes.items())},
        "worker_crashes_restarted": stack.worker_restarts,
        "cancellations_asked": sum(cancellations.codes.values()),
        "cancel_codes": {str(k): v for k, v in sorted(cancellations.codes.items())},
        "initial_stock": initial_stock,
    }


def check(timeout: float, *, initial_stock: dict[str, int]) -> dict:
    """Wait for convergence, then count. ``ok`` is False on any loss, duplicate, undecided or
    inconsistent cancellation, or stock that does not add up to ``initial_stock`` (by sku)."""
    from django.db.models import Count, F, Sum

    from delivery.models import DeadLetter as DeliveryDeadLetter
    from delivery.models import OutboxMessage as DeliveryOutbox
    from delivery.models import Shipment
    from sales.models import Cancellation, Order, OrderLine, OrderStatusChange, Product
    from sales.models import DeadLetter as SalesDeadLetter
    from sales.models import OutboxMessage as SalesOutbox

    in_flight = ["pending", "awaiting_ack"]
    gone = ["shipped", "delivered"]

    def cancelled_orders() -> set[str]:
        return set(Order.objects.filter(status="cancelled").values_list("id", flat=True))

    def cancelled_shipments() -> set[str]:
        return set(Shipment.objects.filter(status="cancelled").values_list("order_id", flat=True))

    def converged() -> bool:
        orders = set(Order.objects.values_list("id", flat=True))
        shipped = set(Shipment.objects.filter(status="shipped").values_list("order_id", flat=True))
        return (
            set(Shipment.objects.values_list("order_id", flat=True)) == orders
            and shipped <= set(Order.objects.filter(status="shipped").values_list("id", flat=True))
            and not Cancellation.objects.filter(state="requested").exists()
            and cancelled_shipments() == cancelled_orders()
            and not SalesOutbox.objects.filter(state__in=in_flight).exists()
            and not DeliveryOutbox.objects.filter(state__in=in_flight).exists()
        )

    started = time.monotonic()
    while not converged() and time.monotonic() - started < timeout:
        time.sleep(0.5)
    seconds = time.monotonic() - started

    orders = Order.objects.count()
    shipments = Shipment.objects.count()
    shipped = Shipment.objects.filter(status="shipped").count()
    accepted = set(Cancellation.objects.filter(state="accepted").values_list("order_id", flat=True))
    refused = set(Cancellation.objects.filter(state="refused").values_list("order_id", flat=True))
    cancelled = [accepted, cancelled_orders(), cancelled_shipments()]
    refused_and_gone = set(Order.objects.filter(id__in=refused, status__in=gone).values_list("id", flat=True)) & set(
        Shipment.objects.filter(order_id__in=refused, status__in=gone).values_list("order_id", flat=True)
    )
    on_hand = dict(Product.objects.values_list("sku", "stock_quantity"))
    in_orders = dict(
        OrderLine.objects.exclude(order__status="cancelled")
        .values("product__sku")
        .annotate(units=Sum("quantity"))
        .values_list("product__sku", "units")
    )
    stock = {
        sku: {"initial": initial_stock.get(sku, 0), "now": on_hand.get(sku, 0), "in_orders": in_orders.get(sku, 0)}
        for sku in sorted(initial_stock.keys() | on_hand.keys() | in_orders.keys())
    }
    figures = {
        "converged_seconds": round(seconds, 1),
        "orders_accepted": orders,
        "shipments": shipments,
        "orders_without_shipment": Order.objects.exclude(
            id__in=Shipment.objects.values_list("order_id", flat=True)
        ).count(),
        "clerk_changes": shipped,
        "changes_reached_sales": Order.objects.filter(status="shipped").count(),
        # A step that leaves the status as it was (a cancellation asked for, or refused) is no change.
        "status_changes_applied_twice": OrderStatusChange.objects.filter(to_status="shipped")
        .exclude(from_status=F("to_status"))
        .values("order_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count(),
        "messages_sent_again": SalesOutbox.objects.filter(attempts__gt=1).count()
        + DeliveryOutbox.objects.filter(attempts__gt=1).count(),
        "left_in_flight": SalesOutbox.objects.filter(state__in=in_flight).count()
        + DeliveryOutbox.objects.filter(state__in=in_flight).count(),
        "abandoned": SalesOutbox.objects.filter(state="abandoned").count()
        + DeliveryOutbox.objects.filter(state="abandoned").count(),
        "dead_letters": SalesDeadLetter.objects.count() + DeliveryDeadLetter.objects.count(),
        "cancellations_accepted": len(accepted),
        "cancellations_refused": len(refused),
        "cancellations_undecided": Cancellation.objects.filter(state="requested").count(),
        # Orders where the accepted cancellation, the cancelled order and the cancelled shipment
        # do not all go together.
        "cancellations_inconsistent": len(set.union(*cancelled) - set.intersection(*cancelled)),
        "refused_but_not_shipped": len(refused - refused_and_gone),
        "cancelled_but_shipped": Shipment.objects.filter(status="cancelled", shipped_at__isnull=False).count()
        + Order.objects.filter(status="cancelled", shipped_at__isnull=False).count(),
        "cancellations_applied_twice": OrderStatusChange.objects.filter(to_status="cancelled")
        .values("order_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count(),
        "stock": stock,
        "stock_conserved": all(s["initial"] == s["now"] + s["in_orders"] for s in stock.values()),
    }
    figures["ok"] = (
        figures["orders_without_shipment"] == 0
        and shipments == orders
        and figures["changes_reached_sales"] == shipped
        and figures["status_changes_applied_twice"] == 0
        and figures["left_in_flight"] == 0
        and figures["abandoned"] == 0
        and figures["dead_letters"] == 0
        and figures["cancellations_undecided"] == 0
        and figures["cancellations_inconsistent"] == 0
        and figures["refused_but_not_shipped"] == 0
        and figures["cancelled_but_shipped"] == 0
        and figures["cancellations_applied_twice"] == 0
        and figures["stock_conserved"]
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--every", type=float, default=15, help="seconds between faults")
    parser.add_argument(
        "--cancel-share", type=float, default=0.1, help="share of the orders placed that are then cancelled"
    )
    parser.add_argument("--converge-timeout", type=float, default=180)
    parser.add_argument(
        "--database", default="soak", help="the database made afresh for the run (dropped first if it exists)"
    )
    args = parser.parse_args()
    if not 0 <= args.cancel_share <= 1:
        parser.error("--cancel-share is a share of the orders, between 0 and 1")

    bench_url = prepare_database(os.environ["DATABASE_URL"], args.database)
    setup_django(bench_url)
    from django.conf import settings
    from rest_framework_simplejwt.tokens import RefreshToken

    from tests.factories import ClerkFactory, CustomerFactory, ProductFactory, StaffFactory
    from tests.integration.stack import Stack

    ProductFactory(sku="SOAK-1", stock_quantity=100_000_000)
    tokens = [str(RefreshToken.for_user(CustomerFactory()).access_token) for _ in range(args.clients)]
    clerk_token = str(RefreshToken.for_user(ClerkFactory()).access_token)
    staff_token = str(RefreshToken.for_user(StaffFactory()).access_token)
    address = {"name": "Ada", "line1": "Main St 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}
    unlimited = {f"THROTTLE_{name}": "100000000/min" for name in ("USER", "ORDERS", "ORDERS_ADDRESS")}
    stack = Stack(
        logs=Path(tempfile.mkdtemp(prefix="soak-")),
        database_url=bench_url,
        secret_key=settings.SECRET_KEY,
        signing_key=settings.MESSAGE_SIGNING_KEY,
        extra_env=unlimited | {"LOG_LEVEL": "WARNING"},
    )
    try:
        stack.start_all()
        run = soak(
            stack,
            seconds=args.seconds,
            clients=args.clients,
            every=args.every,
            tokens=tokens,
            clerk_token=clerk_token,
            staff_token=staff_token,
            cancel_share=args.cancel_share,
            body=lambda i: {"items": [{"sku": "SOAK-1", "quantity": 1}], "shipping_address": address},
        )
        initial_stock = run.pop("initial_stock")
        figures = {**run, **check(args.converge_timeout, initial_stock=initial_stock)}
    finally:
        stack.stop()
    figures["logs"] = str(stack.logs)
    print(json.dumps(figures, indent=2))
    sys.exit(0 if figures["ok"] else 1)


if __name__ == "__main__":
    main()

"""Chaos soak: load for a bounded time while things break, then prove nothing was lost or doubled.

    scripts/soak.sh [--seconds 120] [--clients 4] [--every 15] [--database soak]

Customers keep placing orders and a clerk keeps shipping what is pending, while, in turn every
``--every`` seconds, the workers are killed with SIGKILL (and restarted), Redis is killed and
restarted empty, and the outbox relay is stopped (and started again at the next turn). Then it
waits for convergence and checks, from the databases, that every accepted order has exactly one
shipment, every clerk change reached sales exactly once, and no message is left pending,
abandoned or dead-lettered. It prints the counts and the time to converge, and exits non-zero on
any loss or duplicate. A short version runs in the test suite (tests/integration/test_soak.py).
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from load.bench import http_post, keep_placing, post_all, prepare_database, setup_django


def soak(
    stack,
    *,
    seconds: float,
    clients: int,
    every: float,
    tokens: list[str],
    clerk_token: str,
    body,
    min_faults: int = 0,
) -> dict:
    """Run the load and the faults against a started ``stack``; return the figures. The load
    goes on past ``seconds`` (by 2 s steps, 60 s at most) until ``min_faults`` have happened."""
    from django.db import connection

    from delivery.models import Shipment
    from load.bench import Results

    faults: list[str] = []
    stop = threading.Event()

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

    results = Results()
    breaker = threading.Thread(target=break_things, daemon=True)
    clerk = threading.Thread(target=ship_pending, daemon=True)
    breaker.start()
    clerk.start()
    raws = [http_post("/api/orders/", tokens[i % len(tokens)], body(i)) for i in range(clients)]
    asyncio.run(keep_placing(stack.web_port, raws, seconds, results))
    extra = 0
    while len(faults) < min_faults and extra < 60:
        asyncio.run(keep_placing(stack.web_port, raws, 2, results))
        extra += 2
    stop.set()
    breaker.join(timeout=60)
    clerk.join(timeout=60)
    if "relay" not in stack.processes:
        stack.start_relay()
    return {
        "faults": faults,
        "codes": {str(k): v for k, v in sorted(results.codes.items())},
        "worker_crashes_restarted": stack.worker_restarts,
    }


def check(timeout: float) -> dict:
    """Wait for convergence, then count. ``ok`` is False on any loss or duplicate."""
    from django.db.models import Count

    from delivery.models import DeadLetter as DeliveryDeadLetter
    from delivery.models import OutboxMessage as DeliveryOutbox
    from delivery.models import Shipment
    from sales.models import DeadLetter as SalesDeadLetter
    from sales.models import Order, OrderStatusChange
    from sales.models import OutboxMessage as SalesOutbox

    in_flight = ["pending", "awaiting_ack"]

    def converged() -> bool:
        orders = set(Order.objects.values_list("id", flat=True))
        shipped = set(Shipment.objects.filter(status="shipped").values_list("order_id", flat=True))
        return (
            set(Shipment.objects.values_list("order_id", flat=True)) == orders
            and shipped <= set(Order.objects.filter(status="shipped").values_list("id", flat=True))
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
    figures = {
        "converged_seconds": round(seconds, 1),
        "orders_accepted": orders,
        "shipments": shipments,
        "orders_without_shipment": Order.objects.exclude(
            id__in=Shipment.objects.values_list("order_id", flat=True)
        ).count(),
        "clerk_changes": shipped,
        "changes_reached_sales": Order.objects.filter(status="shipped").count(),
        "status_changes_applied_twice": OrderStatusChange.objects.filter(to_status="shipped")
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
    }
    figures["ok"] = (
        figures["orders_without_shipment"] == 0
        and shipments == orders
        and figures["changes_reached_sales"] == shipped
        and figures["status_changes_applied_twice"] == 0
        and figures["left_in_flight"] == 0
        and figures["abandoned"] == 0
        and figures["dead_letters"] == 0
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--every", type=float, default=15, help="seconds between faults")
    parser.add_argument("--converge-timeout", type=float, default=180)
    parser.add_argument(
        "--database", default="soak", help="the database made afresh for the run (dropped first if it exists)"
    )
    args = parser.parse_args()

    bench_url = prepare_database(os.environ["DATABASE_URL"], args.database)
    setup_django(bench_url)
    from django.conf import settings
    from rest_framework_simplejwt.tokens import RefreshToken

    from tests.factories import ClerkFactory, CustomerFactory, ProductFactory
    from tests.integration.stack import Stack

    ProductFactory(sku="SOAK-1", stock_quantity=100_000_000)
    tokens = [str(RefreshToken.for_user(CustomerFactory()).access_token) for _ in range(args.clients)]
    clerk_token = str(RefreshToken.for_user(ClerkFactory()).access_token)
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
            body=lambda i: {"items": [{"sku": "SOAK-1", "quantity": 1}], "shipping_address": address},
        )
        figures = {**run, **check(args.converge_timeout)}
    finally:
        stack.stop()
    figures["logs"] = str(stack.logs)
    print(json.dumps(figures, indent=2))
    sys.exit(0 if figures["ok"] else 1)


if __name__ == "__main__":
    main()

"""Faults under load: Redis stopped, Redis killed and restarted empty, a worker killed -9.
Whatever happens, every accepted order gets exactly one shipment and every clerk change
reaches sales exactly once (the figures are printed; run with -s to see them)."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from rest_framework_simplejwt.tokens import RefreshToken

from delivery.models import DeadLetter as DeliveryDeadLetter
from delivery.models import InboxMessage as DeliveryInbox
from delivery.models import OutboxMessage as DeliveryOutbox
from delivery.models import Shipment
from messaging.models import OutboxState
from sales.models import DeadLetter as SalesDeadLetter
from sales.models import InboxMessage as SalesInbox
from sales.models import Order, OrderStatusChange
from sales.models import OutboxMessage as SalesOutbox
from tests.factories import ADDRESS, ClerkFactory, CustomerFactory, ProductFactory
from tests.integration.stack import Stack, wait_until

ORDER = {"items": [{"sku": "MUG-1", "quantity": 1}], "shipping_address": ADDRESS}
IN_FLIGHT = [OutboxState.PENDING, OutboxState.AWAITING_ACK]

pytestmark = pytest.mark.integration


def converged(expected_shipments: int) -> bool:
    return (
        Shipment.objects.count() == expected_shipments
        and not SalesOutbox.objects.filter(state__in=IN_FLIGHT).exists()
        and not DeliveryOutbox.objects.filter(state__in=IN_FLIGHT).exists()
    )


def place_orders(stack: Stack, count: int, *, during: threading.Thread | None = None) -> list[str]:
    """Place ``count`` orders from 4 client threads at a steady pace, ``during`` started when a
    third of them are in; returns the ids of the accepted orders."""
    ProductFactory(sku="MUG-1", stock_quantity=10_000)
    tokens = [str(RefreshToken.for_user(CustomerFactory()).access_token) for _ in range(4)]

    def place(index: int) -> tuple[int, dict]:
        return stack.request("POST", "/api/orders/", ORDER, tokens[index % 4])

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = []
        for index in range(count):
            if during is not None and index == count // 3:
                during.start()
            futures.append(pool.submit(place, index))
            time.sleep(0.03)
        results = [future.result() for future in futures]
    if during is not None:
        during.join(timeout=60)
    assert [code for code, _ in results] == [201] * count
    return [body["id"] for _, body in results]


def assert_each_order_has_exactly_one_shipment(order_ids: list[str]) -> None:
    assert sorted(Shipment.objects.values_list("order_id", flat=True)) == sorted(order_ids)
    assert DeliveryInbox.objects.count() == len(order_ids)
    assert SalesOutbox.objects.filter(type="order.created", state=OutboxState.DONE).count() == len(order_ids)
    assert (SalesDeadLetter.objects.count(), DeliveryDeadLetter.objects.count()) == (0, 0)
    assert SalesOutbox.objects.filter(state=OutboxState.ABANDONED).exists() is False
    assert DeliveryOutbox.objects.filter(state=OutboxState.ABANDONED).exists() is False


def test_orders_placed_while_redis_is_down_go_out_when_it_is_back(stack):
    stack.kill("redis")
    started = time.monotonic()
    order_ids = place_orders(stack, 10)
    placing = time.monotonic() - started
    assert Shipment.objects.count() == 0

    stack.start_redis()
    seconds = wait_until(lambda: converged(10), timeout=60, what="all orders shipped out")

    print(f"\nredis down: 10 orders placed in {placing:.2f}s, all 201; converged {seconds:.1f}s after Redis returned")
    assert_each_order_has_exactly_one_shipment(order_ids)


def test_redis_killed_and_restarted_empty_during_a_burst_loses_nothing(stack):
    queued = []

    def crash_redis() -> None:
        # Stop consuming first, so that Redis holds messages when it dies and loses them.
        stack.kill_workers()
        time.sleep(1.0)
        queued.append(redis.Redis(port=stack.redis_port).llen("delivery"))
        stack.kill("redis")
        time.sleep(1.0)
        stack.start_redis()
        stack.start_workers()

    order_ids = place_orders(stack, 60, during=threading.Thread(target=crash_redis))
    seconds = wait_until(lambda: converged(60), timeout=90, what="all orders shipped out")

    resent = SalesOutbox.objects.filter(attempts__gt=1).count()
    print(
        f"\nredis kill -9 + empty restart mid-burst: 60 orders, {queued[0]} messages lost with Redis,"
        f" {resent} sent again, converged {seconds:.1f}s after the burst"
    )
    assert queued[0] > 0
    assert resent >= queued[0]
    assert_each_order_has_exactly_one_shipment(order_ids)


def test_a_worker_killed_mid_burst_loses_no_order_and_no_status_change(stack):
    def crash_worker() -> None:
        stack.kill_workers()
        time.sleep(1.0)
        stack.start_workers()

    order_ids = place_orders(stack, 45, during=threading.Thread(target=crash_worker))
    seconds = wait_until(lambda: converged(45), timeout=90, what="all orders shipped out")
    resent = SalesOutbox.objects.filter(attempts__gt=1).count()
    print(f"\nworker kill -9 mid-burst: 45 orders, {resent} sent again, converged {seconds:.1f}s after the burst")
    assert_each_order_has_exactly_one_shipment(order_ids)

    clerk = str(RefreshToken.for_user(ClerkFactory()).access_token)
    shipment_ids = list(Shipment.objects.values_list("id", flat=True))
    killer = threading.Thread(target=crash_worker)
    for index, shipment_id in enumerate(shipment_ids):
        if index == 15:
            killer.start()
        code, _ = stack.request("POST", f"/api/delivery/shipments/{shipment_id}/ship/", {}, clerk)
        assert code == 200
    killer.join(timeout=60)
    seconds = wait_until(
        lambda: Order.objects.filter(status="shipped").count() == 45 and converged(45), timeout=90, what="all shipped"
    )

    resent = DeliveryOutbox.objects.filter(attempts__gt=1).count()
    print(
        f"worker kill -9 mid clerk changes: 45 status changes, {resent} sent again,"
        f" converged {seconds:.1f}s after the last one"
    )
    assert OrderStatusChange.objects.filter(to_status="shipped").count() == 45
    assert SalesInbox.objects.count() == 45
    assert (SalesDeadLetter.objects.count(), DeliveryDeadLetter.objects.count()) == (0, 0)

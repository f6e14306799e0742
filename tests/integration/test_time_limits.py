"""A consumer stuck past its soft time limit in a real solo worker (config/celery.py) is interrupted
and retried, and the worker goes on: the order's row is held by another transaction while delivery's
"shipped" message is consumed."""

import threading

import pytest
from django.db import connection, transaction
from rest_framework_simplejwt.tokens import RefreshToken

from delivery.models import Shipment
from sales.models import Order
from tests.factories import ADDRESS, ClerkFactory, CustomerFactory, ProductFactory
from tests.integration.stack import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"CELERY_TASK_SOFT_TIME_LIMIT": "1", "CELERY_TASK_TIME_LIMIT": "30"}


def test_a_consumer_past_its_soft_limit_is_interrupted_retried_and_the_worker_goes_on(stack):
    ProductFactory(sku="MUG-1", stock_quantity=10)
    customer = str(RefreshToken.for_user(CustomerFactory()).access_token)
    clerk = str(RefreshToken.for_user(ClerkFactory()).access_token)
    code, order = stack.request(
        "POST", "/api/orders/", {"items": [{"sku": "MUG-1", "quantity": 1}], "shipping_address": ADDRESS}, customer
    )
    assert code == 201
    wait_until(lambda: Shipment.objects.filter(order_id=order["id"]).exists(), timeout=30, what="shipment made")
    shipment = Shipment.objects.get(order_id=order["id"])
    held, release = threading.Event(), threading.Event()

    def hold_the_order() -> None:  # sales' consumer waits on this row lock (lock_timeout is 10 s)
        with transaction.atomic():
            Order.objects.select_for_update().get(id=order["id"])
            held.set()
            release.wait(30)
        connection.close()

    holder = threading.Thread(target=hold_the_order)
    holder.start()
    held.wait(10)
    try:
        code, _ = stack.request("POST", f"/api/delivery/shipments/{shipment.id}/ship/", {}, clerk)
        assert code == 200
        log = stack.logs / "worker-sales-1.log"
        wait_until(lambda: "SoftTimeLimitExceeded" in log.read_text(), timeout=30, what="the soft limit fired")
    finally:
        release.set()
        holder.join(30)

    wait_until(lambda: Order.objects.get(id=order["id"]).status == "shipped", timeout=60, what="applied on a retry")
    assert '"message": "message consumer retrying"' in log.read_text()
    assert stack.exited() == {}
    assert stack.worker_restarts == 0

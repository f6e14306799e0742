"""The chaos soak (load/soak.py), short: 12 s of orders and clerk changes while a worker
is killed, Redis restarted empty and the relay stopped; nothing may be lost or doubled.

Placing orders is throttled here as in production (60/min per customer, 600/min per address),
which keeps the load within what this 2-core machine's consumers can drain as it goes."""

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from load.soak import check, soak
from tests.factories import ADDRESS, ClerkFactory, CustomerFactory, ProductFactory

pytestmark = pytest.mark.integration


def test_a_short_soak_loses_nothing_and_doubles_nothing(stack):
    ProductFactory(sku="SOAK-1", stock_quantity=1_000_000)
    tokens = [str(RefreshToken.for_user(CustomerFactory()).access_token) for _ in range(2)]
    clerk_token = str(RefreshToken.for_user(ClerkFactory()).access_token)

    run = soak(
        stack,
        seconds=12,
        clients=2,
        every=3,
        min_faults=3,
        tokens=tokens,
        clerk_token=clerk_token,
        body=lambda i: {"items": [{"sku": "SOAK-1", "quantity": 1}], "shipping_address": ADDRESS},
    )
    figures = check(timeout=90)

    print(f"\nshort soak: {run} {figures}")
    assert run["faults"][:3] == ["kill worker", "restart redis empty", "stop relay"]
    # The default throttles hold the load at what two cores can also consume (429 beyond it).
    assert set(run["codes"]) <= {"201", "429"}
    assert figures["orders_accepted"] > 0
    assert figures["clerk_changes"] > 0
    assert figures["ok"] is True, figures

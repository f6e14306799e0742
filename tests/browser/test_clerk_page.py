"""A delivery clerk at work, in a real browser (Debian's Chromium driven by Playwright), on the
live system: gunicorn, a Celery worker, the outbox relay and Redis."""

import re

import pytest
from playwright.sync_api import Page, expect
from rest_framework_simplejwt.tokens import RefreshToken

from delivery.models import Shipment
from tests.factories import PASSWORD, ClerkFactory, CustomerFactory, ProductFactory, ShipmentFactory
from tests.integration.stack import Stack, wait_until

ADDRESS = {"name": "Ada Lovelace", "line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}

pytestmark = pytest.mark.browser


def log_in(page: Page, stack: Stack, username: str) -> None:
    page.goto(f"{stack.base_url}/delivery/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/delivery/$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def order_status(stack: Stack, order_id: str, token: str) -> str:
    return stack.request("GET", f"/api/orders/{order_id}/", token=token)[1]["status"]


def order_with_its_shipment(stack: Stack) -> tuple[dict, str]:
    """An order of 2 mugs placed by a new customer through the API, once delivery has made its
    shipment; and the customer's access token."""
    ProductFactory(sku="MUG-1", name="Enamel mug", stock_quantity=50)
    token = str(RefreshToken.for_user(CustomerFactory()).access_token)
    body = {"items": [{"sku": "MUG-1", "quantity": 2}], "shipping_address": ADDRESS}
    code, order = stack.request("POST", "/api/orders/", body, token)
    assert code == 201
    wait_until(lambda: Shipment.objects.filter(order_id=order["id"]).exists(), timeout=15, what="shipment made")
    return order, token


def test_a_clerk_ships_and_delivers_an_order_and_sales_sees_it(stack, browser, artifacts):
    # Given an order placed through the API, and some other work on the clerk's list
    clerk = ClerkFactory()
    order, token = order_with_its_shipment(stack)
    ShipmentFactory(order_id="ORD-7K3M9QX2B4TZ0W1C", status="shipped", tracking_number="1Z999AA10123456784")
    ShipmentFactory(order_id="ORD-2C8D5F0HJ1KM3NPQ", status="delivered")
    tees = [{"sku": "TEE-M", "name": "Organic T-shirt, M", "quantity": 3}]
    ShipmentFactory(order_id="ORD-Q4RS6TV8WX0Y2Z3A", items=tees)

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, stack, clerk.username)
    expect(page.get_by_role("heading", name="Shipments")).to_be_visible()
    page.screenshot(path=artifacts / "clerk-list-desktop.png", full_page=True)

    # When the clerk finds the order and marks it shipped
    page.get_by_label("Order id").fill(order["id"][:10])
    page.get_by_role("button", name="Filter").click()
    row = page.get_by_role("row").filter(has_text=order["id"])
    expect(row).to_have_count(1)
    row.get_by_label(re.compile("Tracking number")).fill("1Z42")
    row.get_by_role("button", name="Mark shipped").click()

    # Then the page says so and the customer's order becomes shipped
    expect(page.get_by_role("status")).to_contain_text(f"Order {order['id']} marked shipped.")
    wait_until(lambda: order_status(stack, order["id"], token) == "shipped", timeout=10, what="order shipped")

    # And when the clerk marks it delivered, the order becomes delivered
    page.get_by_role("row").filter(has_text=order["id"]).get_by_role("button", name="Mark delivered").click()
    expect(page.get_by_role("status")).to_contain_text(f"Order {order['id']} marked delivered.")
    wait_until(lambda: order_status(stack, order["id"], token) == "delivered", timeout=10, what="order delivered")

    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    log_in(phone, stack, clerk.username)
    expect(phone.get_by_role("button", name="Mark shipped")).to_be_visible()
    phone.screenshot(path=artifacts / "clerk-list-phone.png", full_page=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_customer_is_refused(stack, browser):
    customer = CustomerFactory()
    page = browser.new_page()

    log_in(page, stack, customer.username)

    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    response = page.goto(f"{stack.base_url}/delivery/")
    assert response.status == 403


def test_a_cancelled_shipment_is_shown_without_buttons(stack, browser, artifacts):
    # Given an order the customer cancelled before it left (delivery accepted, sales applied it),
    # and another order still to send
    clerk = ClerkFactory()
    order, token = order_with_its_shipment(stack)
    code, _ = stack.request("POST", f"/api/orders/{order['id']}/cancel/", {"reason": "Ordered twice"}, token)
    assert code == 202
    wait_until(lambda: order_status(stack, order["id"], token) == "cancelled", timeout=15, what="order cancelled")
    pending = ShipmentFactory(order_id="ORD-Q4RS6TV8WX0Y2Z3A")

    # When a clerk looks at the list
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, stack, clerk.username)
    expect(page.get_by_role("heading", name="Shipments")).to_be_visible()
    page.screenshot(path=artifacts / "clerk-list-cancelled.png", full_page=True)

    # Then the cancelled shipment says so and offers nothing to do; the pending one can be shipped
    cancelled_row = page.get_by_role("row").filter(has_text=order["id"])
    expect(cancelled_row.locator("td[data-label='Status']")).to_have_text("Cancelled")
    expect(cancelled_row.locator("td[data-label='Action']")).to_contain_text("do not send")
    expect(cancelled_row.get_by_role("button")).to_have_count(0)
    pending_row = page.get_by_role("row").filter(has_text=pending.order_id)
    expect(pending_row.locator("td[data-label='Status']")).to_have_text("Pending")
    expect(pending_row.get_by_role("button", name="Mark shipped")).to_be_visible()

    # And the cancelled shipment's own page has no buttons either
    cancelled_row.get_by_role("link", name=order["id"]).click()
    expect(page.get_by_role("heading", name=f"Order {order['id']}")).to_be_visible()
    main = page.get_by_role("main")
    expect(main.locator(".heading .badge")).to_have_text("Cancelled")
    expect(main.get_by_role("button")).to_have_count(0)
    page.screenshot(path=artifacts / "clerk-detail-cancelled.png", full_page=True)

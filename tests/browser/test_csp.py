"""Every kind of server-rendered page works in a real browser under the Content-Security-Policy,
with no violation reported: log-in, the clerk pages, admin, the API docs (Swagger UI)."""

import re

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from tests.factories import PASSWORD, OrderFactory, ShipmentFactory, StaffFactory
from tests.integration.stack import Stack

pytestmark = pytest.mark.browser

# Reported by the page itself for anything the policy blocks (Chromium also logs these on the
# console, as "Refused to ..." errors, which are collected too).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.effectiveDirective} blocked ${event.blockedURI}`);
});
"""


class Console:
    """Every CSP violation the browser reports on any page of a context, and each page's CSP header."""

    def __init__(self, context: BrowserContext) -> None:
        self.errors: list[str] = []
        self.policies: dict[str, str | None] = {}
        context.add_init_script(REPORT_VIOLATIONS)
        context.on("console", self._console)
        context.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "CSP violation" in message.text:
            self.errors.append(f"{message.location.get('url')}: {message.text}")

    def _response(self, response) -> None:
        if response.request.resource_type == "document":
            self.policies[re.sub(r"^https?://[^/]+", "", response.url)] = response.headers.get(
                "content-security-policy"
            )


def log_in(page: Page, stack: Stack, path: str, username: str) -> None:
    page.goto(f"{stack.base_url}{path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_the_pages_work_under_the_content_security_policy(stack, browser):
    # Given staff (who may use the clerk pages and admin), an order and its shipment
    staff = StaffFactory()
    order = OrderFactory()
    shipment = ShipmentFactory(order_id=order.id)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    console = Console(context)
    page = context.new_page()

    # When they use the clerk pages ...
    log_in(page, stack, "/delivery/", staff.username)
    expect(page.get_by_role("button", name="Mark shipped")).to_be_visible()
    page.goto(f"{stack.base_url}/delivery/shipments/{shipment.id}/")
    expect(page.get_by_text("Hauptstraße 1")).to_be_visible()
    # ... admin: the index, a list with its filters and actions, an object's page, a form ...
    page.goto(f"{stack.base_url}/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.goto(f"{stack.base_url}/admin/sales/order/")
    expect(page.get_by_role("link", name=order.id)).to_be_visible()
    page.get_by_role("link", name=order.id).click()
    expect(page.get_by_role("heading", name="View order")).to_be_visible()
    page.goto(f"{stack.base_url}/admin/sales/product/add/")
    expect(page.get_by_label("Sku")).to_be_visible()
    # ... and the API docs, where Swagger UI renders the schema and opens an operation
    page.goto(f"{stack.base_url}/api/docs/")
    operation = page.locator(".opblock-summary").filter(has_text="/api/orders/").first
    expect(operation).to_be_visible(timeout=15_000)
    operation.click()
    expect(page.get_by_role("button", name="Try it out").first).to_be_visible()
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_role("heading", name="Available authorizations")).to_be_visible()
    # ... and a visitor sees admin's log-in page
    visitor = browser.new_context()
    visitor_console = Console(visitor)
    visitor_page = visitor.new_page()
    visitor_page.goto(f"{stack.base_url}/admin/login/")
    expect(visitor_page.get_by_role("button", name="Log in")).to_be_visible()

    # Then every page came with the policy, and the browser blocked nothing on any of them
    pages = {**console.policies, **visitor_console.policies}
    assert [path for path, policy in pages.items() if not policy] == []
    assert sorted(pages) == [
        "/accounts/login/",  # the log-in form's POST
        "/accounts/login/?next=/delivery/",
        "/admin/",
        "/admin/login/",
        "/admin/sales/order/",
        f"/admin/sales/order/{order.id}/change/",
        "/admin/sales/product/add/",
        "/api/docs/",
        "/delivery/",
        f"/delivery/shipments/{shipment.id}/",
    ]
    assert (console.errors, visitor_console.errors) == ([], [])

"""Every kind of page answers with the Content-Security-Policy. (That the pages still work under
it, in a real browser: tests/browser/test_csp.py.)"""

import base64
import hashlib
import re

import pytest
from django.test import Client

from tests.factories import ShipmentFactory

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def directives(header: str) -> dict[str, str]:
    """The policy as {directive: sources}: django-csp does not keep the directives' order."""
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def style_hash(css: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()}'"


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_log_in_pages_send_the_policy(path):
    response = Client().get(path)

    assert (response.status_code, directives(response["Content-Security-Policy"])) == (200, POLICY)


def test_clerk_pages_send_the_policy(clerk_browser):
    shipment = ShipmentFactory()

    pages = [clerk_browser.get("/delivery/"), clerk_browser.get(f"/delivery/shipments/{shipment.id}/")]

    assert [(page.status_code, directives(page["Content-Security-Policy"])) for page in pages] == [
        (200, POLICY),
        (200, POLICY),
    ]


def test_admin_pages_send_the_policy(staff_browser):
    pages = [staff_browser.get("/admin/"), staff_browser.get("/admin/sales/order/")]

    assert [(page.status_code, directives(page["Content-Security-Policy"])) for page in pages] == [
        (200, POLICY),
        (200, POLICY),
    ]


def test_the_api_docs_allow_their_own_inline_style_and_no_inline_script():
    response = Client().get("/api/docs/")

    html = response.content.decode()
    [css] = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    assert response.status_code == 200
    assert directives(response["Content-Security-Policy"]) == {**POLICY, "style-src": f"'self' {style_hash(css)}"}
    assert re.findall(r"<script>", html) == []  # the start-up script comes from ?script, a file
    assert re.findall(r'<script src="([^"]+)"', html)[-1] == "/api/docs/?script="


def test_api_answers_send_the_policy_too(anon_client):
    response = anon_client.get("/api/products/")

    assert (response.status_code, directives(response["Content-Security-Policy"])) == (401, POLICY)

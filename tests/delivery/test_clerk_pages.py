import re

import pytest
from django.test import Client
from django.utils import timezone

from delivery.models import OutboxMessage, Shipment
from tests.factories import PASSWORD, ShipmentFactory

pytestmark = pytest.mark.django_db


def order_ids_on(response) -> list[str]:
    return re.findall(r'class="order-id">(ORD-[^<]+)<', response.content.decode())


def flash(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/delivery/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/delivery/"


def test_customers_get_403(client, customer):
    client.force_login(customer)

    response = client.get("/delivery/")

    assert response.status_code == 403
    assert "These pages are for delivery clerks." in response.content.decode()


def test_customers_cannot_act_either(client, customer):
    client.force_login(customer)
    shipment = ShipmentFactory()

    response = client.post(f"/delivery/shipments/{shipment.id}/ship/")

    assert response.status_code == 403
    assert Shipment.objects.get().status == "pending"


@pytest.mark.parametrize("who", ["clerk", "staff"])
def test_clerks_and_staff_see_the_list_pending_first(client, who, request):
    client.force_login(request.getfixturevalue(who))
    ShipmentFactory(order_id="ORD-DELIVERED", status="delivered")
    ShipmentFactory(order_id="ORD-SHIPPED", status="shipped")
    ShipmentFactory(order_id="ORD-PENDING")

    response = client.get("/delivery/")

    assert response.status_code == 200
    assert order_ids_on(response) == ["ORD-PENDING", "ORD-SHIPPED", "ORD-DELIVERED"]


def test_each_row_offers_the_one_action_its_state_allows(clerk_browser):
    pending = ShipmentFactory(order_id="ORD-PENDING")
    shipped = ShipmentFactory(order_id="ORD-SHIPPED", status="shipped")
    ShipmentFactory(order_id="ORD-DELIVERED", status="delivered")

    content = clerk_browser.get("/delivery/").content.decode()

    assert content.count(">Mark shipped</button>") == 1
    assert content.count(">Mark delivered</button>") == 1
    assert f'action="/delivery/shipments/{pending.id}/ship/"' in content
    assert f'action="/delivery/shipments/{shipped.id}/deliver/"' in content


def test_a_row_shows_what_a_clerk_needs(clerk_browser):
    ShipmentFactory(
        order_id="ORD-ROW",
        items=[{"sku": "A", "name": "Mug", "quantity": 2}, {"sku": "B", "name": "Tee", "quantity": 1}],
        tracking_number="1Z999",
        status="shipped",
    )

    content = clerk_browser.get("/delivery/").content.decode()

    assert "3 items" in content
    assert "2× Mug, 1× Tee" in content
    assert "Berlin, DE" in content
    assert "1Z999" in content
    assert '<span class="badge badge-shipped">Shipped</span>' in content


@pytest.mark.parametrize(
    ("query", "expected"),
    [("status=shipped", ["ORD-B2"]), ("q=ORD-A1", ["ORD-A1"]), ("q=ord-a", ["ORD-A1", "ORD-A2"])],
)
def test_filter_by_status_and_search_by_order_id_or_its_start(clerk_browser, query, expected):
    ShipmentFactory(order_id="ORD-A1")
    ShipmentFactory(order_id="ORD-A2")
    ShipmentFactory(order_id="ORD-B2", status="shipped")

    response = clerk_browser.get(f"/delivery/?{query}")

    assert order_ids_on(response) == expected


def test_pages_of_twenty_five_keep_the_filter(clerk_browser):
    ShipmentFactory.create_batch(26)
    ShipmentFactory(status="shipped")

    first = clerk_browser.get("/delivery/?status=pending")
    second = clerk_browser.get("/delivery/?status=pending&page=2")

    assert (len(order_ids_on(first)), len(order_ids_on(second))) == (25, 1)
    assert 'href="?status=pending&amp;page=2"' in first.content.decode()


def test_detail_page_shows_items_and_the_full_address(clerk_browser):
    shipment = ShipmentFactory(order_id="ORD-DETAIL")

    content = clerk_browser.get(f"/delivery/shipments/{shipment.id}/").content.decode()

    assert "Hauptstraße 1" in content
    assert "10115 Berlin" in content
    assert "Enamel mug" in content
    assert ">Mark shipped</button>" in content


def test_mark_shipped_with_a_tracking_number(clerk_browser):
    shipment = ShipmentFactory(order_id="ORD-SHIP")

    response = clerk_browser.post(
        f"/delivery/shipments/{shipment.id}/ship/", {"tracking_number": "1Z42", "next": "/delivery/?status=pending"}
    )

    shipment.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == "/delivery/?status=pending"
    assert (shipment.status, shipment.tracking_number) == ("shipped", "1Z42")
    assert OutboxMessage.objects.get().type == "shipment.status_changed"


def test_a_double_click_ships_once_and_says_so(clerk_browser):
    shipment = ShipmentFactory(order_id="ORD-TWICE")

    first = clerk_browser.post(f"/delivery/shipments/{shipment.id}/ship/", follow=True)
    second = clerk_browser.post(f"/delivery/shipments/{shipment.id}/ship/", follow=True)

    assert flash(first) == ["Order ORD-TWICE marked shipped."]
    assert flash(second) == ["Order ORD-TWICE was already shipped."]
    assert OutboxMessage.objects.count() == 1


def test_mark_delivered_from_a_stale_page(clerk_browser):
    shipment = ShipmentFactory(order_id="ORD-STALE", status="delivered")

    response = clerk_browser.post(f"/delivery/shipments/{shipment.id}/deliver/", follow=True)

    assert flash(response) == ["Order ORD-STALE was already delivered."]
    assert OutboxMessage.objects.exists() is False


def test_deliver_before_ship_is_refused_with_a_message(clerk_browser):
    shipment = ShipmentFactory(order_id="ORD-EARLY")

    response = clerk_browser.post(f"/delivery/shipments/{shipment.id}/deliver/", follow=True)

    assert flash(response) == ["Order ORD-EARLY has not been shipped yet: mark it shipped first."]
    assert Shipment.objects.get().status == "pending"


@pytest.mark.parametrize("action", ["ship", "deliver"])
def test_a_cancelled_shipment_is_refused_with_a_message(clerk_browser, action):
    shipment = ShipmentFactory(order_id="ORD-GONE", status="cancelled", cancelled_at=timezone.now())

    response = clerk_browser.post(f"/delivery/shipments/{shipment.id}/{action}/", follow=True)

    assert flash(response) == ["Order ORD-GONE was cancelled: do not send it."]
    assert (Shipment.objects.get().status, OutboxMessage.objects.exists()) == ("cancelled", False)


def test_a_cancelled_shipment_shows_cancelled_and_no_action(clerk_browser):
    ShipmentFactory(order_id="ORD-PENDING")
    cancelled = ShipmentFactory(order_id="ORD-GONE", status="cancelled", cancelled_at=timezone.now())

    listing = clerk_browser.get("/delivery/").content.decode()
    detail = clerk_browser.get(f"/delivery/shipments/{cancelled.id}/").content.decode()

    assert listing.count(">Mark shipped</button>") == 1
    assert f"/delivery/shipments/{cancelled.id}/ship/" not in listing
    assert '<span class="badge badge-cancelled">Cancelled</span>' in listing
    assert ("Mark shipped" in detail, "Mark delivered" in detail) == (False, False)
    assert '<span class="badge badge-cancelled">Cancelled</span>' in detail


def test_a_shipment_cancelled_before_its_order_arrived_says_so(clerk_browser):
    shipment = ShipmentFactory(status="cancelled", cancelled_at=timezone.now(), items=[], shipping_address=None,
                               order_created_at=None)  # fmt: skip

    response = clerk_browser.get(f"/delivery/shipments/{shipment.id}/")
    listing = clerk_browser.get("/delivery/").content.decode()

    assert response.status_code == 200
    assert "The order was cancelled before it reached delivery." in response.content.decode()
    assert '<td data-label="Placed">—</td>' in listing
    assert '<td data-label="Ship to">—</td>' in listing


def test_a_bad_tracking_number_is_refused_with_a_message(clerk_browser):
    shipment = ShipmentFactory(order_id="ORD-BAD")

    response = clerk_browser.post(f"/delivery/shipments/{shipment.id}/ship/", {"tracking_number": "a b"}, follow=True)

    assert flash(response) == ["Order ORD-BAD: Use 1 to 64 printable characters without spaces."]
    assert Shipment.objects.get().status == "pending"


def test_actions_only_take_post(clerk_browser):
    shipment = ShipmentFactory()

    response = clerk_browser.get(f"/delivery/shipments/{shipment.id}/ship/")

    assert response.status_code == 405


def test_actions_need_the_csrf_token(clerk):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk)
    shipment = ShipmentFactory()

    refused = client.post(f"/delivery/shipments/{shipment.id}/ship/")
    token = client.get("/delivery/").context["csrf_token"]
    accepted = client.post(f"/delivery/shipments/{shipment.id}/ship/", {"csrfmiddlewaretoken": str(token)})

    assert (refused.status_code, accepted.status_code) == (403, 302)
    assert Shipment.objects.get().status == "shipped"


def test_redirect_never_leaves_the_site(clerk_browser):
    shipment = ShipmentFactory()

    response = clerk_browser.post(f"/delivery/shipments/{shipment.id}/ship/", {"next": "https://evil.example/"})

    assert response["Location"] == "/delivery/"


def test_unknown_shipment_is_404(clerk_browser):
    assert clerk_browser.get("/delivery/shipments/SHP-NOPE/").status_code == 404


def test_log_in_and_out(client, clerk):
    page = client.get("/accounts/login/")
    logged_in = client.post("/accounts/login/", {"username": clerk.username, "password": PASSWORD})
    logged_out = client.post("/accounts/logout/")

    assert page.status_code == 200
    assert (logged_in.status_code, logged_in["Location"]) == (302, "/delivery/")
    assert (logged_out.status_code, logged_out["Location"]) == (302, "/accounts/login/")
    assert client.get("/delivery/").status_code == 302


def test_wrong_password_shows_an_error(client, clerk):
    response = client.post("/accounts/login/", {"username": clerk.username, "password": "nope"})

    assert response.status_code == 200
    assert "Please enter a correct username and password." in response.content.decode()


def test_staff_get_a_link_to_admin_and_admin_links_back(client, staff):
    client.force_login(staff)

    page = client.get("/delivery/").content.decode()
    admin = client.get("/admin/").content.decode()

    assert 'href="/admin/"' in page
    assert 'href="/delivery/"' in admin


def test_clerks_get_no_admin_link(clerk_browser):
    assert 'href="/admin/"' not in clerk_browser.get("/delivery/").content.decode()

import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, Permission

from delivery.contracts import CLERKS_GROUP
from delivery.models import OutboxMessage, Shipment
from tests.clients import bearer_client
from tests.factories import ShipmentFactory

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_clerk_group_is_made_by_a_migration_with_its_permissions():
    group = Group.objects.get(name=CLERKS_GROUP)

    assert sorted(group.permissions.values_list("content_type__app_label", "codename")) == [
        ("delivery", "change_shipment"),
        ("delivery", "view_shipment"),
    ]


def test_list_shows_pending_first_and_cancelled_last(clerk_client):
    cancelled = ShipmentFactory(status="cancelled")
    delivered = ShipmentFactory(status="delivered")
    pending = ShipmentFactory()
    shipped = ShipmentFactory(status="shipped")

    response = clerk_client.get("/api/delivery/shipments/")

    assert response.status_code == 200
    assert response.json()["count"] == 4
    assert [s["id"] for s in response.json()["results"]] == [pending.id, shipped.id, delivered.id, cancelled.id]


def test_shipment_representation(clerk_client):
    shipment = ShipmentFactory(order_id="ORD-AAAA000000000001")

    response = clerk_client.get(f"/api/delivery/shipments/{shipment.id}/")

    body = response.json()
    assert response.status_code == 200
    assert body == {
        "id": shipment.id,
        "order_id": "ORD-AAAA000000000001",
        "status": "pending",
        "status_display": "Pending",
        "items": [{"sku": "MUG-1", "name": "Enamel mug", "quantity": 2}],
        "shipping_address": {
            "name": "Ada Lovelace",
            "line1": "Hauptstraße 1",
            "line2": "",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        "tracking_number": None,
        "created_at": body["created_at"],
        "shipped_at": None,
        "delivered_at": None,
        "cancelled_at": None,
    }
    assert ISO_UTC.match(body["created_at"])


@pytest.mark.parametrize(("query", "expected"), [("status=shipped", ["b"]), ("order_id=ORD-A", ["a"])])
def test_list_filters(clerk_client, query, expected):
    shipments = {"a": ShipmentFactory(order_id="ORD-A"), "b": ShipmentFactory(order_id="ORD-B", status="shipped")}

    response = clerk_client.get(f"/api/delivery/shipments/?{query}")

    assert [s["id"] for s in response.json()["results"]] == [shipments[key].id for key in expected]


def test_list_refuses_an_unknown_status(clerk_client):
    response = clerk_client.get("/api/delivery/shipments/?status=lost")

    assert response.status_code == 400


def test_ship_marks_the_shipment_and_tells_sales(clerk_client):
    shipment = ShipmentFactory()

    response = clerk_client.post(f"/api/delivery/shipments/{shipment.id}/ship/", {"tracking_number": "1Z999AA1"})

    shipment.refresh_from_db()
    message = OutboxMessage.objects.get()
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["status_display"]) == ("shipped", "Shipped")
    assert response.json()["tracking_number"] == "1Z999AA1"
    assert ISO_UTC.match(response.json()["shipped_at"])
    assert (shipment.status, shipment.tracking_number) == ("shipped", "1Z999AA1")
    assert message.type == "shipment.status_changed"
    assert message.envelope["payload"] == {
        "shipment_id": shipment.id,
        "order_id": shipment.order_id,
        "status": "shipped",
        "occurred_at": shipment.shipped_at.isoformat(),
        "tracking_number": "1Z999AA1",
    }


def test_ship_without_a_body(clerk_client):
    shipment = ShipmentFactory()

    response = clerk_client.post(f"/api/delivery/shipments/{shipment.id}/ship/")

    assert (response.status_code, response.json()["status"], response.json()["tracking_number"]) == (
        200,
        "shipped",
        None,
    )


def test_ship_twice_is_harmless(clerk_client):
    shipment = ShipmentFactory()
    first = clerk_client.post(f"/api/delivery/shipments/{shipment.id}/ship/", {"tracking_number": "T1"})

    again = clerk_client.post(f"/api/delivery/shipments/{shipment.id}/ship/", {"tracking_number": "T2"})

    assert again.status_code == 200
    assert again.json() == first.json()
    assert OutboxMessage.objects.count() == 1


def test_ship_refuses_a_bad_tracking_number(clerk_client):
    shipment = ShipmentFactory()

    response = clerk_client.post(f"/api/delivery/shipments/{shipment.id}/ship/", {"tracking_number": "has space"})

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "tracking_number": ["Use 1 to 64 printable characters without spaces."],
    }
    assert Shipment.objects.get().status == "pending"


def test_deliver_after_ship(clerk_client):
    shipment = ShipmentFactory(status="shipped", shipped_at=datetime(2026, 11, 1, tzinfo=UTC))

    response = clerk_client.post(f"/api/delivery/shipments/{shipment.id}/deliver/")
    again = clerk_client.post(f"/api/delivery/shipments/{shipment.id}/deliver/")

    assert (response.status_code, response.json()["status"]) == (200, "delivered")
    assert again.json() == response.json()
    assert list(OutboxMessage.objects.values_list("envelope__payload__status", flat=True)) == ["delivered"]


def test_deliver_before_ship_is_409(clerk_client):
    shipment = ShipmentFactory()

    response = clerk_client.post(f"/api/delivery/shipments/{shipment.id}/deliver/")

    assert response.status_code == 409
    assert response.json() == {"detail": "This shipment has not been shipped yet; mark it shipped first."}
    assert OutboxMessage.objects.exists() is False


@pytest.mark.parametrize("action", ["ship", "deliver"])
def test_a_cancelled_shipment_is_409(clerk_client, action):
    shipment = ShipmentFactory(status="cancelled", cancelled_at=T0)

    response = clerk_client.post(f"/api/delivery/shipments/{shipment.id}/{action}/")

    shipment.refresh_from_db()
    assert response.status_code == 409
    assert response.json() == {"detail": "This shipment was cancelled; it is neither shipped nor delivered."}
    assert (shipment.status, OutboxMessage.objects.exists()) == ("cancelled", False)


def test_a_shipment_cancelled_before_its_order_arrived_has_no_address_yet(clerk_client):
    shipment = ShipmentFactory(
        status="cancelled", cancelled_at=T0, items=[], shipping_address=None, order_created_at=None
    )

    body = clerk_client.get(f"/api/delivery/shipments/{shipment.id}/").json()

    assert (body["status"], body["status_display"], body["items"], body["shipping_address"]) == (
        "cancelled",
        "Cancelled",
        [],
        None,
    )
    assert body["cancelled_at"] == "2026-11-01T08:00:00Z"


def test_unknown_shipment_is_404(clerk_client):
    response = clerk_client.post("/api/delivery/shipments/SHP-NOPE/ship/")

    assert response.status_code == 404


def test_staff_may_work_on_shipments(staff_client):
    shipment = ShipmentFactory()

    response = staff_client.post(f"/api/delivery/shipments/{shipment.id}/ship/")

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/delivery/shipments/"),
        ("get", "/api/delivery/shipments/{id}/"),
        ("post", "/api/delivery/shipments/{id}/ship/"),
        ("post", "/api/delivery/shipments/{id}/deliver/"),
    ],
)
def test_customers_get_403(customer_client, method, path):
    shipment = ShipmentFactory()

    response = getattr(customer_client, method)(path.format(id=shipment.id))

    assert response.status_code == 403
    assert Shipment.objects.get().status == "pending"


def test_anonymous_gets_401(anon_client):
    response = anon_client.get("/api/delivery/shipments/")

    assert response.status_code == 401


def test_group_membership_is_what_makes_a_clerk(customer):
    client = bearer_client(customer)
    before = client.get("/api/delivery/shipments/").status_code
    customer.groups.add(Group.objects.get(name=CLERKS_GROUP))

    after = client.get("/api/delivery/shipments/").status_code

    assert (before, after) == (403, 200)


def test_access_comes_from_the_permission_not_the_group_name(customer):
    client = bearer_client(customer)
    group = Group.objects.get(name=CLERKS_GROUP)
    customer.groups.add(group)
    change_shipment = Permission.objects.get(content_type__app_label="delivery", codename="change_shipment")
    group.permissions.remove(change_shipment)
    member_without_the_permission = client.get("/api/delivery/shipments/").status_code
    customer.groups.clear()
    customer.user_permissions.add(change_shipment)

    granted_without_the_group = client.get("/api/delivery/shipments/").status_code

    assert (member_without_the_permission, granted_without_the_group) == (403, 200)

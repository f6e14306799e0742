"""Shipment ids that cannot exist are a 404 without a query, on the API and on the clerk pages;
a NUL in a filter is a 400 on the API and ignored on the pages, never a 500."""

import pytest

from tests.factories import ShipmentFactory

pytestmark = pytest.mark.django_db

IDS_THAT_CANNOT_EXIST = ["%00", "SHP-%00", "%01", "SHP-1%0A", "%7F", "S" * 1000]


@pytest.mark.parametrize("shipment_id", IDS_THAT_CANNOT_EXIST)
@pytest.mark.parametrize(("method", "action"), [("get", ""), ("post", "ship/"), ("post", "deliver/")])
def test_an_api_shipment_id_that_cannot_exist_is_a_404_without_a_query(
    clerk_client, django_assert_num_queries, shipment_id, method, action
):
    with django_assert_num_queries(0):
        response = getattr(clerk_client, method)(f"/api/delivery/shipments/{shipment_id}/{action}")

    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


@pytest.mark.parametrize("shipment_id", IDS_THAT_CANNOT_EXIST)
@pytest.mark.parametrize(("method", "action"), [("get", ""), ("post", "ship/"), ("post", "deliver/")])
def test_a_page_shipment_id_that_cannot_exist_is_a_404_without_a_query(
    clerk_browser, django_assert_num_queries, shipment_id, method, action
):
    with django_assert_num_queries(0):
        response = getattr(clerk_browser, method)(f"/delivery/shipments/{shipment_id}/{action}")

    assert (response.status_code, response["Content-Type"]) == (404, "text/html; charset=utf-8")


@pytest.mark.parametrize(
    ("query", "status", "body"),
    [
        (
            "status=%00",
            400,
            {
                "detail": "Invalid input.",
                "status": ["Select a valid choice. \x00 is not one of the available choices."],
            },
        ),
        ("order_id=%00", 400, {"detail": "Invalid input.", "order_id": ["Null characters are not allowed."]}),
        ("order_id=ORD-%00", 400, {"detail": "Invalid input.", "order_id": ["Null characters are not allowed."]}),
        ("page=%00", 404, {"detail": "Invalid page."}),  # as for any page that is not a number
    ],
)
def test_a_nul_in_an_api_filter_is_not_a_500(clerk_client, query, status, body):
    response = clerk_client.get(f"/api/delivery/shipments/?{query}")

    assert (response.status_code, response.json()) == (status, body)


def test_a_nul_in_the_page_size_is_the_default_size(clerk_client):
    shipment = ShipmentFactory()

    response = clerk_client.get("/api/delivery/shipments/?page_size=%00")

    assert (response.status_code, [row["id"] for row in response.json()["results"]]) == (200, [shipment.id])


@pytest.mark.parametrize("query", ["status=%00", "q=%00", "q=ORD-%00", "page=%00", "status=%00&q=%00&page=%00"])
def test_a_nul_in_a_page_filter_is_ignored(clerk_browser, query):
    shipment = ShipmentFactory()

    response = clerk_browser.get(f"/delivery/?{query}")

    assert response.status_code == 200
    assert [row.id for row in response.context["page"]] == [shipment.id]

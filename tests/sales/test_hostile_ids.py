"""An id in a path that cannot exist (a NUL or another control character, an absurd length) is a
404 at once: the URL does not match, nothing is asked of the database."""

import pytest

pytestmark = pytest.mark.django_db

NOT_FOUND = {"detail": "Not found."}
IDS_THAT_CANNOT_EXIST = ["%00", "ORD-%00", "%01", "ORD-1%0A", "%7F", "A" * 1000, "%C3%A9", "ORD%20X"]


@pytest.mark.parametrize("order_id", IDS_THAT_CANNOT_EXIST)
def test_an_order_id_that_cannot_exist_is_a_404_without_a_query(customer_client, django_assert_num_queries, order_id):
    with django_assert_num_queries(0):
        response = customer_client.get(f"/api/orders/{order_id}/")

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize("sku", ["%00", "MUG%00", "%1B", "M" * 65])
@pytest.mark.parametrize("method", ["get", "patch"])
def test_a_sku_that_cannot_exist_is_a_404_without_a_query(staff_client, django_assert_num_queries, method, sku):
    with django_assert_num_queries(0):
        response = getattr(staff_client, method)(f"/api/products/{sku}/")

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_an_anonymous_caller_gets_the_same_404(anon_client):
    response = anon_client.get("/api/orders/%00/")

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


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
        ("page=%00", 404, {"detail": "Invalid page."}),  # as for any page that is not a number
        ("page_size=%00", 200, {"count": 0, "next": None, "previous": None, "results": []}),  # the default size
    ],
)
def test_a_nul_in_a_query_parameter_is_not_a_500(customer_client, query, status, body):
    response = customer_client.get(f"/api/orders/?{query}")

    assert (response.status_code, response.json()) == (status, body)

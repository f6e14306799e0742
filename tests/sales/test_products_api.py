from decimal import Decimal

import pytest

from sales.models import Product
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_list_products_paginated_by_sku(customer_client):
    ProductFactory(sku="B-2", name="Bowl", price=Decimal("7.00"), stock_quantity=0)
    ProductFactory(sku="A-1", name="Apron", price=Decimal("19.99"), stock_quantity=3)
    ProductFactory(sku="C-3", name="Cup", price=Decimal("4.50"), stock_quantity=9, is_active=False)

    response = customer_client.get("/api/products/")

    assert response.status_code == 200
    assert response.json() == {
        "count": 3,
        "next": None,
        "previous": None,
        "results": [
            {
                "sku": "A-1",
                "name": "Apron",
                "price": "19.99",
                "stock_quantity": 3,
                "is_active": True,
                "available": True,
            },
            {"sku": "B-2", "name": "Bowl", "price": "7.00", "stock_quantity": 0, "is_active": True, "available": False},
            {"sku": "C-3", "name": "Cup", "price": "4.50", "stock_quantity": 9, "is_active": False, "available": False},
        ],
    }


def test_list_pages_of_fifty_by_default(customer_client):
    ProductFactory.create_batch(51)

    first = customer_client.get("/api/products/").json()
    second = customer_client.get("/api/products/?page=2").json()

    assert (first["count"], len(first["results"])) == (51, 50)
    assert first["next"] == "http://testserver/api/products/?page=2"
    assert (len(second["results"]), second["next"]) == (1, None)


def test_page_size_is_capped_at_two_hundred(customer_client):
    ProductFactory.create_batch(201)

    response = customer_client.get("/api/products/?page_size=500")

    assert len(response.json()["results"]) == 200


def test_page_size_can_be_chosen(customer_client):
    ProductFactory.create_batch(3)

    response = customer_client.get("/api/products/?page_size=2")

    assert len(response.json()["results"]) == 2


def test_retrieve_product(customer_client, mug):
    response = customer_client.get("/api/products/MUG-1/")

    assert response.status_code == 200
    assert response.json() == {
        "sku": "MUG-1",
        "name": "Enamel mug",
        "price": "12.50",
        "stock_quantity": 10,
        "is_active": True,
        "available": True,
    }


def test_retrieve_product_with_a_dot_in_its_sku(customer_client):
    ProductFactory(sku="CAB.USB-C")

    response = customer_client.get("/api/products/CAB.USB-C/")

    assert response.status_code == 200
    assert response.json()["sku"] == "CAB.USB-C"


def test_retrieve_unknown_product_is_404(customer_client):
    response = customer_client.get("/api/products/NOPE/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No Product matches the given query."}


def test_staff_creates_a_product(staff_client):
    response = staff_client.post(
        "/api/products/", {"sku": "LAMP-1", "name": "Desk lamp", "price": "49.00", "stock_quantity": 7}
    )

    assert response.status_code == 201
    assert response.json() == {
        "sku": "LAMP-1",
        "name": "Desk lamp",
        "price": "49.00",
        "stock_quantity": 7,
        "is_active": True,
        "available": True,
    }
    assert Product.objects.filter(sku="LAMP-1", stock_quantity=7).count() == 1


def test_create_validates_the_product(staff_client, mug):
    response = staff_client.post("/api/products/", {"sku": "MUG-1", "name": "", "price": "-1.00", "stock_quantity": -2})

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "sku": ["product with this sku already exists."],
        "name": ["This field may not be blank."],
        "price": ["Ensure this value is greater than or equal to 0."],
        "stock_quantity": ["Ensure this value is greater than or equal to 0."],
    }


def test_customer_cannot_create_a_product(customer_client):
    response = customer_client.post(
        "/api/products/", {"sku": "LAMP-1", "name": "Desk lamp", "price": "49.00", "stock_quantity": 7}
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "You do not have permission to perform this action."}
    assert Product.objects.exists() is False


def test_staff_patches_a_product(staff_client, mug):
    response = staff_client.patch("/api/products/MUG-1/", {"stock_quantity": 0, "price": "13.00"})

    mug.refresh_from_db()
    assert response.status_code == 200
    assert response.json() == {
        "sku": "MUG-1",
        "name": "Enamel mug",
        "price": "13.00",
        "stock_quantity": 0,
        "is_active": True,
        "available": False,
    }
    assert (mug.stock_quantity, mug.price) == (0, Decimal("13.00"))


def test_patch_cannot_rename_the_sku(staff_client, mug):
    response = staff_client.patch("/api/products/MUG-1/", {"sku": "MUG-9"})

    assert response.status_code == 200
    assert Product.objects.get().sku == "MUG-1"


def test_customer_cannot_patch_a_product(customer_client, mug):
    response = customer_client.patch("/api/products/MUG-1/", {"stock_quantity": 1000})

    mug.refresh_from_db()
    assert response.status_code == 403
    assert mug.stock_quantity == 10


@pytest.mark.parametrize("method", ["put", "delete"])
def test_products_cannot_be_replaced_or_deleted(staff_client, mug, method):
    response = getattr(staff_client, method)("/api/products/MUG-1/")

    assert response.status_code == 405
    assert Product.objects.count() == 1

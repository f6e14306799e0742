import pytest

from sales.models import Product
from tests.clients import session_client
from tests.factories import (
    CustomerFactory,
    IdempotencyKeyFactory,
    OrderFactory,
    OrderLineFactory,
    OrderStatusChangeFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():
    line = OrderLineFactory(order__customer=CustomerFactory(username="grace", email="grace@navy.mil"))
    OrderStatusChangeFactory(order=line.order)
    return line.order


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/sales/product/",
        "/admin/sales/product/?q=MUG",
        "/admin/sales/product/?is_active__exact=1",
        "/admin/sales/product/add/",
        "/admin/sales/order/",
        "/admin/sales/order/?status__exact=pending_shipment",
        "/admin/sales/order/?created_at__year=2026",
        "/admin/sales/order/?shipping_country=DE",
        "/admin/sales/idempotencykey/",
        "/admin/sales/idempotencykey/?state__exact=completed",
    ],
)
def test_staff_pages_render(staff_browser, order, mug, path):
    response = staff_browser.get(path)

    assert response.status_code == 200


def test_product_change_form_renders(staff_browser, mug):
    response = staff_browser.get(f"/admin/sales/product/{mug.pk}/change/")

    assert response.status_code == 200
    assert b"MUG-1" in response.content


def test_order_page_shows_lines_history_and_total(staff_browser, order):
    response = staff_browser.get(f"/admin/sales/order/{order.pk}/change/")

    content = response.content.decode()
    line = order.lines.get()
    assert response.status_code == 200
    assert order.id in content
    assert line.sku in content
    assert "Pending Shipment" in content
    assert "history" in content.lower()


@pytest.mark.parametrize("query", ["grace", "grace@navy.mil"])
def test_orders_are_found_by_customer(staff_browser, order, query):
    OrderFactory()

    response = staff_browser.get("/admin/sales/order/", {"q": query})

    assert list(response.context["cl"].result_list) == [order]


def test_orders_are_found_by_id(staff_browser, order):
    OrderFactory()

    response = staff_browser.get("/admin/sales/order/", {"q": order.id})

    assert list(response.context["cl"].result_list) == [order]


def test_orders_filter_by_status(staff_browser, order):
    shipped = OrderFactory(status="shipped")

    response = staff_browser.get("/admin/sales/order/", {"status__exact": "shipped"})

    assert list(response.context["cl"].result_list) == [shipped]


def test_orders_are_read_only(staff_browser, order):
    response = staff_browser.post(f"/admin/sales/order/{order.pk}/change/", {"status": "delivered", "total": "0"})

    order.refresh_from_db()
    assert response.status_code == 403
    assert order.status == "pending_shipment"


def changelist_save(client, product, *, shown: int, typed: int):
    """What the product list posts: the stock typed, and (hidden) the stock the page showed."""
    return client.post(
        "/admin/sales/product/",
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(product.pk),
            "form-0-stock_quantity": str(typed),
            "initial-form-0-stock_quantity": str(shown),
            "form-0-is_active": "on",
            "_save": "Save",
        },
    )


def test_staff_edits_stock_in_the_changelist(staff_browser):
    product = ProductFactory(sku="MUG-1", stock_quantity=3)

    response = changelist_save(staff_browser, product, shown=3, typed=40)

    product.refresh_from_db()
    assert response.status_code == 302
    assert product.stock_quantity == 40


def test_the_list_page_carries_the_stock_it_shows(staff_browser):
    product = ProductFactory(sku="MUG-1", stock_quantity=3)

    content = staff_browser.get("/admin/sales/product/").content.decode()

    assert 'name="initial-form-0-stock_quantity" value="3"' in content
    assert product.stock_quantity == 3


def test_units_sold_while_staff_edit_stay_sold(staff_browser):
    product = ProductFactory(sku="MUG-1", stock_quantity=5)
    Product.objects.filter(pk=product.pk).update(stock_quantity=0)  # sold while the page was open

    changelist_save(staff_browser, product, shown=5, typed=5)  # saved without touching the stock

    product.refresh_from_db()
    assert product.stock_quantity == 0


def test_a_stock_edit_adds_to_what_is_left_now(staff_browser):
    product = ProductFactory(sku="MUG-1", stock_quantity=3)
    Product.objects.filter(pk=product.pk).update(stock_quantity=2)  # one sold meanwhile

    changelist_save(staff_browser, product, shown=3, typed=40)

    product.refresh_from_db()
    assert product.stock_quantity == 39


def test_a_stock_edit_never_takes_stock_below_zero(staff_browser):
    product = ProductFactory(sku="MUG-1", stock_quantity=5)
    Product.objects.filter(pk=product.pk).update(stock_quantity=1)

    response = changelist_save(staff_browser, product, shown=5, typed=0)

    product.refresh_from_db()
    assert product.stock_quantity == 1
    assert [str(m) for m in response.wsgi_request._messages] == [
        "MUG-1: stock not changed; fewer units are left than that takes away.",
        "1 product was changed successfully.",
    ]


def test_renaming_on_the_change_form_leaves_sold_units_sold(staff_browser):
    product = ProductFactory(sku="MUG-1", name="Mug", stock_quantity=5)
    Product.objects.filter(pk=product.pk).update(stock_quantity=0)

    staff_browser.post(
        f"/admin/sales/product/{product.pk}/change/",
        {
            "name": "Enamel mug",
            "price": "10.00",
            "stock_quantity": "5",
            "initial-stock_quantity": "5",
            "is_active": "on",
        },
    )

    product.refresh_from_db()
    assert (product.name, product.stock_quantity) == ("Enamel mug", 0)


def test_staff_adds_a_product(staff_browser):
    response = staff_browser.post(
        "/admin/sales/product/add/",
        {"sku": "NEW-1", "name": "New thing", "price": "3.00", "stock_quantity": "9", "is_active": "on"},
    )

    product = Product.objects.get()
    assert response.status_code == 302
    assert response["Location"] == "/admin/sales/product/"
    assert (product.sku, product.name, product.stock_quantity) == ("NEW-1", "New thing", 9)


def test_sku_is_read_only_once_set(staff_browser, mug):
    staff_browser.post(
        f"/admin/sales/product/{mug.pk}/change/",
        {"sku": "RENAMED", "name": "Enamel mug", "price": "12.50", "stock_quantity": "10", "is_active": "on"},
    )

    assert Product.objects.get().sku == "MUG-1"


@pytest.mark.parametrize("path", ["/admin/", "/admin/sales/order/", "/admin/sales/product/"])
def test_non_staff_are_sent_to_the_login(customer, order, path):
    client = session_client(customer)

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_idempotency_key_page_renders(staff_browser):
    record = IdempotencyKeyFactory()

    response = staff_browser.get(f"/admin/sales/idempotencykey/{record.pk}/change/")

    assert response.status_code == 200

from datetime import UTC, datetime

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission

from sales.models import Cancellation, OutboxMessage, Product
from tests.clients import session_client
from tests.factories import (
    CancellationFactory,
    CustomerFactory,
    IdempotencyKeyFactory,
    OrderFactory,
    OrderLineFactory,
    OrderStatusChangeFactory,
    ProductFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():
    line = OrderLineFactory(order__customer=CustomerFactory(username="grace", email="grace@navy.mil"))
    OrderStatusChangeFactory(order=line.order)
    return line.order


def staff_with(*codenames: str):
    """A staff member (not a superuser) holding only these permissions of the sales app."""
    user = StaffFactory(is_superuser=False)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="sales", codename__in=codenames))
    return user


@pytest.fixture
def reader(db):
    """Staff who may read orders and their cancellations, but not cancel them."""
    return session_client(staff_with("view_order", "view_orderline", "view_cancellation", "view_orderstatuschange"))


@pytest.fixture
def canceller(db):
    """Staff who may read orders and cancel them, without being superusers."""
    return session_client(
        staff_with("view_order", "view_orderline", "view_cancellation", "view_orderstatuschange", "cancel_order")
    )


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
        "/admin/sales/order/?status__exact=cancelled",
        "/admin/sales/order/?cancellation__state__exact=refused",
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


# --- cancelling orders ----------------------------------------------------------------------


def messages_of(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


def cancel_action(client, *orders):
    return client.post(
        "/admin/sales/order/", {"action": "cancel_orders", "_selected_action": [order.pk for order in orders]}
    )


def test_the_action_asks_delivery_to_cancel_and_refuses_a_shipped_order(canceller, order):
    shipped = OrderFactory(status="shipped")

    response = cancel_action(canceller, order, shipped)

    cancellation = Cancellation.objects.get()
    message = OutboxMessage.objects.get()
    order.refresh_from_db()
    shipped.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == "/admin/sales/order/"
    assert messages_of(response) == [
        "1 order asked to be cancelled; delivery decides.",
        f"1 order not cancelled, already shipped or delivered: {shipped.pk}.",
    ]
    assert (cancellation.order, cancellation.state, cancellation.source, cancellation.reason) == (
        order,
        "requested",
        "admin",
        "",
    )
    assert cancellation.requested_by == response.wsgi_request.user
    assert (message.type, message.envelope["payload"]["order_id"]) == ("order.cancellation_requested", order.pk)
    assert (order.status, order.cancelled_at) == ("pending_shipment", None)
    assert (shipped.status, shipped.cancelled_at) == ("shipped", None)


def test_the_action_is_logged_in_the_orders_history(canceller, order):
    response = cancel_action(canceller, order)

    entry = LogEntry.objects.get()
    assert (entry.object_id, entry.user, entry.get_change_message()) == (
        order.pk,
        response.wsgi_request.user,
        "Cancellation requested",
    )
    assert "Cancellation requested" in canceller.get(f"/admin/sales/order/{order.pk}/history/").content.decode()


def test_the_action_reports_orders_already_cancelled_and_leaves_them_be(canceller):
    cancelled = CancellationFactory(order__status="cancelled", state="accepted").order

    response = cancel_action(canceller, cancelled)

    assert messages_of(response) == [f"Already cancelled: {cancelled.pk}."]
    assert Cancellation.objects.get().state == "accepted"
    assert list(OutboxMessage.objects.all()) == []
    assert list(LogEntry.objects.all()) == []


def test_the_action_reports_orders_already_asked_and_asks_nothing_again(canceller):
    open_request = CancellationFactory(reason="by the customer")

    response = cancel_action(canceller, open_request.order)

    assert messages_of(response) == [f"Already asked to be cancelled, delivery decides: {open_request.order.pk}."]
    assert list(Cancellation.objects.values_list("reason", "source")) == [("by the customer", "api")]
    assert list(OutboxMessage.objects.all()) == []
    assert list(LogEntry.objects.all()) == []


def test_the_action_is_offered_to_staff_with_the_permission(canceller, order):
    response = canceller.get("/admin/sales/order/")

    assert response.context["action_form"].fields["action"].choices == [
        ("", "---------"),
        ("cancel_orders", "Cancel selected orders"),
    ]


def test_staff_without_the_permission_have_no_action(reader, order):
    page = reader.get("/admin/sales/order/")
    response = cancel_action(reader, order)

    assert page.status_code == 200
    assert page.context["action_form"] is None
    assert response.status_code == 200  # the list again: there is no action to take
    assert list(Cancellation.objects.all()) == []


def test_staff_cancel_from_the_order_page(canceller, order):
    response = canceller.post(f"/admin/sales/order/{order.pk}/cancel/", {"reason": "Customer phoned: wrong size"})

    cancellation = Cancellation.objects.get()
    entry = LogEntry.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/sales/order/{order.pk}/change/"
    assert messages_of(response) == [f"Order {order.pk}: cancellation requested; delivery decides."]
    assert (cancellation.order, cancellation.state, cancellation.source, cancellation.reason) == (
        order,
        "requested",
        "admin",
        "Customer phoned: wrong size",
    )
    assert cancellation.requested_by == response.wsgi_request.user
    assert OutboxMessage.objects.get().type == "order.cancellation_requested"
    assert (entry.object_id, entry.get_change_message()) == (order.pk, "Cancellation requested")


def test_the_order_page_refuses_to_cancel_a_shipped_order(canceller):
    shipped = OrderFactory(status="shipped")

    response = canceller.post(f"/admin/sales/order/{shipped.pk}/cancel/", {"reason": ""})

    assert response.status_code == 302
    assert messages_of(response) == [f"Order {shipped.pk} has already shipped; it can no longer be cancelled."]
    assert list(Cancellation.objects.all()) == []
    assert list(LogEntry.objects.all()) == []


def test_the_order_page_leaves_a_cancelled_order_be(canceller):
    cancelled = CancellationFactory(order__status="cancelled", state="accepted").order

    response = canceller.post(f"/admin/sales/order/{cancelled.pk}/cancel/", {"reason": "again"})

    assert response.status_code == 302
    assert messages_of(response) == [f"Order {cancelled.pk} is already cancelled."]
    assert Cancellation.objects.get().reason == ""
    assert list(LogEntry.objects.all()) == []


def test_a_reason_longer_than_200_characters_is_refused(canceller, order):
    response = canceller.post(f"/admin/sales/order/{order.pk}/cancel/", {"reason": "x" * 201})

    assert response.status_code == 302
    assert messages_of(response) == [
        f"Order {order.pk} not cancelled: Ensure this value has at most 200 characters (it has 201)."
    ]
    assert list(Cancellation.objects.all()) == []


def test_the_cancel_url_refuses_get(canceller, order):
    response = canceller.get(f"/admin/sales/order/{order.pk}/cancel/")

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert list(Cancellation.objects.all()) == []


def test_the_cancel_url_is_403_without_the_permission(reader, order):
    response = reader.post(f"/admin/sales/order/{order.pk}/cancel/", {"reason": ""})

    assert response.status_code == 403
    assert list(Cancellation.objects.all()) == []


def test_the_cancel_url_is_404_for_an_unknown_order(canceller):
    response = canceller.post("/admin/sales/order/ORD-0000000000000000/cancel/", {"reason": ""})

    assert response.status_code == 404


def test_the_cancel_url_sends_anonymous_visitors_to_the_login(order):
    client = session_client(CustomerFactory())

    response = client.post(f"/admin/sales/order/{order.pk}/cancel/", {"reason": ""})

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert list(Cancellation.objects.all()) == []


CANCEL_FORM = 'id="order_cancel_form"'


def test_the_order_page_offers_the_button_for_a_pending_order(canceller, order):
    content = canceller.get(f"/admin/sales/order/{order.pk}/change/").content.decode()

    assert CANCEL_FORM in content
    assert f'action="/admin/sales/order/{order.pk}/cancel/"' in content
    assert 'name="csrfmiddlewaretoken"' in content
    assert '<input type="text" name="reason" maxlength="200" id="id_reason">' in content


@pytest.mark.parametrize(
    "make_order",
    [
        lambda: CancellationFactory(state="requested").order,
        # The parcel has left; the shipped update is on its way.
        lambda: CancellationFactory(state="refused").order,
        lambda: OrderFactory(status="shipped"),
        lambda: OrderFactory(status="delivered"),
        lambda: CancellationFactory(order__status="cancelled", state="accepted").order,
    ],
    ids=["asked already", "refused", "shipped", "delivered", "cancelled"],
)
def test_the_order_page_offers_no_button_when_there_is_nothing_to_ask(canceller, make_order):
    order = make_order()

    response = canceller.get(f"/admin/sales/order/{order.pk}/change/")

    assert response.status_code == 200
    assert CANCEL_FORM not in response.content.decode()


def test_the_order_page_offers_no_button_without_the_permission(reader, order):
    response = reader.get(f"/admin/sales/order/{order.pk}/change/")

    assert response.status_code == 200
    assert CANCEL_FORM not in response.content.decode()


def test_the_order_page_shows_the_cancellation_and_its_decision(staff_browser, order):
    decided_at = datetime(2026, 11, 28, 14, 5, tzinfo=UTC)
    order.status, order.cancelled_at = "cancelled", decided_at
    order.save()
    CancellationFactory(
        order=order,
        state="accepted",
        reason="Ordered twice",
        source="admin",
        requested_at=datetime(2026, 11, 28, 13, 0, tzinfo=UTC),
        decided_at=decided_at,
    )

    response = staff_browser.get(f"/admin/sales/order/{order.pk}/change/")

    inline = next(
        formset for formset in response.context["inline_admin_formsets"] if formset.opts.model is Cancellation
    )
    [form] = list(inline)
    shown = {field.field["name"]: str(field.contents()) for fieldset in form for line in fieldset for field in line}
    assert response.status_code == 200
    assert shown == {
        "state": "Accepted",
        "reason": "Ordered twice",
        "requested_by": f'<a href="/admin/accounts/user/{order.customer.pk}/change/">grace</a>',
        "source": "admin",
        "requested_at": "Nov. 28, 2026, 1 p.m.",
        "decided_at": "Nov. 28, 2026, 2:05 p.m.",
    }
    assert CANCEL_FORM not in response.content.decode()


def test_orders_filter_by_cancelled_status(staff_browser, order):
    cancelled = OrderFactory(status="cancelled")

    response = staff_browser.get("/admin/sales/order/", {"status__exact": "cancelled"})

    assert list(response.context["cl"].result_list) == [cancelled]


def test_orders_filter_by_cancellation_state(staff_browser, order):
    asked = CancellationFactory(state="requested").order
    CancellationFactory(state="refused", order__status="shipped")

    response = staff_browser.get("/admin/sales/order/", {"cancellation__state__exact": "requested"})

    assert list(response.context["cl"].result_list) == [asked]
    assert "By cancellation" in response.content.decode()

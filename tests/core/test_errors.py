"""Every answer under /api/ is JSON, errors included; the pages elsewhere keep Django's HTML; a
database that is unreachable or times out is a 503 with Retry-After (core/errors.py)."""

from contextlib import contextmanager

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from core.db import breaker
from sales.models import Order, Product
from tests import outages
from tests.factories import ADDRESS

UNAVAILABLE = {"detail": "The service is temporarily unavailable; please retry in a few seconds."}


def answer(response):
    """What a client sees: the status, the content type, the body."""
    return response.status_code, response["Content-Type"], response.json()


@pytest.fixture
def client_seeing_500s():
    # Django's test client re-raises a view's exception; a real client gets the answer.
    return Client(raise_request_exception=False)


# --- JSON under /api/, HTML elsewhere -------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/nope/", "/api/orders/ORD-1/nope/", "/api", "/api/delivery/"])
def test_an_unknown_api_path_is_a_json_404(anon_client, path):
    response = anon_client.get(path)

    assert answer(response) == (404, "application/json", {"detail": "Not found."})


@pytest.mark.django_db
def test_an_unknown_page_elsewhere_is_djangos_html_404(client):
    response = client.get("/nope/")

    assert (response.status_code, response["Content-Type"]) == (404, "text/html; charset=utf-8")
    assert "<h1>Not Found</h1>" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"), [("delete", "/api/orders/"), ("post", "/api/schema/"), ("delete", "/api/docs/")]
)
def test_a_wrong_method_is_a_json_405(customer_client, method, path):
    response = getattr(customer_client, method)(path)

    assert answer(response) == (405, "application/json", {"detail": f'Method "{method.upper()}" not allowed.'})


@pytest.mark.django_db
def test_a_host_not_allowed_is_a_json_400_under_api(anon_client):
    response = anon_client.get("/api/products/", HTTP_HOST="evil.example")

    assert answer(response) == (400, "application/json", {"detail": "Bad request."})


@pytest.mark.django_db
@pytest.mark.urls("tests.core.broken_urls")
@pytest.mark.parametrize("path", ["/api/broken/", "/api/broken-plain/"])
def test_an_unhandled_error_under_api_is_a_json_500_without_a_traceback(client_seeing_500s, path):
    response = client_seeing_500s.get(path)

    assert answer(response) == (500, "application/json", {"detail": "Server error."})


@pytest.mark.django_db
@pytest.mark.urls("tests.core.broken_urls")
def test_an_unhandled_error_on_a_page_is_djangos_html_500(client_seeing_500s):
    response = client_seeing_500s.get("/broken/")

    assert (response.status_code, response["Content-Type"]) == (500, "text/html; charset=utf-8")
    assert "<h1>Server Error (500)</h1>" in response.content.decode()


# --- the database away ----------------------------------------------------------------------


@pytest.fixture
def database_unreachable(transactional_db):
    """From now on every connection to the database is refused, as when PostgreSQL is down.
    Name it after the fixtures that write (users, tokens, sessions): pytest sets them up first."""
    with outages.database_unreachable():
        yield
    breaker.reset()  # as its cooldown would, before the test database is emptied


@pytest.fixture
def connection_closed_underneath(transactional_db):
    """The driver's connection closed behind Django's back (the server went away): psycopg2
    then raises InterfaceError ("connection already closed") on its next use."""
    connection.ensure_connection()
    connection.connection.close()
    yield
    connection.close()


@contextmanager
def products_held():
    """Meanwhile another session holds the products table, and this one gives up on a statement
    after 300 ms, as statement_timeout makes a hung database fail a request."""
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '300ms'")
    holder = connection.get_new_connection(connection.get_connection_params())
    try:
        holder.cursor().execute("LOCK TABLE sales_product IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        holder.rollback()
        holder.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")


def real_client(client):
    client.raise_request_exception = False
    return client


def test_a_database_down_is_a_503_when_authenticating(customer_client, database_unreachable):
    client = real_client(customer_client)

    response = client.get("/api/orders/")

    assert answer(response) == (503, "application/json", UNAVAILABLE)
    assert response["Retry-After"] == "5"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/token/", {"username": "ada", "password": "correct-horse-battery-staple"}),
        ("/api/auth/register/", {"username": "ada", "password": "correct-horse-battery-staple", "email": "a@b.de"}),
    ],
)
def test_a_database_down_is_a_503_in_a_serializer(database_unreachable, path, body):
    client = real_client(APIClient())

    response = client.post(path, body)

    assert answer(response) == (503, "application/json", UNAVAILABLE)
    assert response["Retry-After"] == "5"


@pytest.mark.django_db(transaction=True)
def test_a_database_timing_out_in_the_view_is_a_503_and_changes_nothing(customer_client, mug):
    client = real_client(customer_client)

    with products_held():
        response = client.post(
            "/api/orders/", {"items": [{"sku": "MUG-1", "quantity": 1}], "shipping_address": ADDRESS}
        )

    assert answer(response) == (503, "application/json", UNAVAILABLE)
    assert response["Retry-After"] == "5"
    assert (Order.objects.count(), Product.objects.get().stock_quantity) == (0, 10)


def test_a_connection_closed_underneath_is_replaced_and_the_request_answered(
    customer_client, connection_closed_underneath
):
    client = real_client(customer_client)

    response = client.get("/api/orders/")

    assert answer(response) == (200, "application/json", {"count": 0, "next": None, "previous": None, "results": []})


def test_a_database_down_is_a_short_503_page_on_the_clerk_pages(clerk_browser, database_unreachable, caplog):
    browser = real_client(clerk_browser)

    response = browser.get("/delivery/")

    # One warning line, no traceback logged (nor reported to Sentry) for every request of an outage.
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records if r.name == "core.errors"] == [
        ("WARNING", "database unavailable", None)
    ]
    assert [r for r in caplog.records if r.exc_info] == []

    assert (response.status_code, response["Content-Type"], response["Retry-After"]) == (
        503,
        "text/html; charset=utf-8",
        "5",
    )
    assert "<h1>Temporarily unavailable</h1><p>Please try again in a few seconds.</p>" in response.content.decode()

"""What reaches Sentry: a real error in gunicorn, reported to a real capture server on loopback;
and what the scrubbers keep of the other kinds of data that integrations add (tasks, logs, Redis)."""

import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection
from rest_framework_simplejwt.tokens import RefreshToken

from core.error_reporting import before_breadcrumb, before_send
from tests.factories import PASSWORD, CustomerFactory, ProductFactory
from tests.integration.stack import Stack, on_test_database, wait_until
from tests.sentry_capture import CaptureServer

ADDRESS = {
    "name": "Ada Lovelace-Byron",
    "line1": "Geheimweg 77",
    "city": "Quedlinburg",
    "postal_code": "06484",
    "country": "DE",
}


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    server = CaptureServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def orders_fail_in_the_database(transactional_db) -> Iterator[None]:
    """Every order INSERT fails in PostgreSQL with a NOT NULL violation, whose DETAIL quotes the
    whole row (the shipping address with it), as a real schema or data bug would."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE sales_order ADD COLUMN sentry_probe text NOT NULL")
    yield
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE sales_order DROP COLUMN sentry_probe")


@pytest.fixture
def traces_sample_rate() -> str:
    """SENTRY_TRACES_SAMPLE_RATE of the web process; a test overrides it."""
    return "0"


@pytest.fixture
def web_reporting_to(capture, tmp_path, traces_sample_rate) -> Iterator[Stack]:
    """gunicorn (one worker) with SENTRY_DSN set: the SDK lives in that process, not in the tests'."""
    stack = on_test_database(
        logs=tmp_path,
        web_workers=1,
        extra_env={
            "SENTRY_DSN": capture.dsn,
            "SENTRY_TRACES_SAMPLE_RATE": traces_sample_rate,
            "REDIS_URL": settings.REDIS_URL,
        },
    )
    try:
        stack.start_web()
        yield stack
    finally:
        stack.stop()
        print(stack.log_tails())


def post(stack: Stack, path: str, body: dict, headers: dict[str, str]) -> int:
    request = urllib.request.Request(stack.base_url + path, data=json.dumps(body).encode(), method="POST")
    for name, value in {"Content-Type": "application/json", **headers}.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def place_an_order_full_of_secrets(stack: Stack) -> tuple[int, dict, list[str]]:
    """An order by a customer with a token, in a request that carries tokens, a password, cookies
    and an address; its answer, its body, and every secret in it."""
    ProductFactory(sku="MUG-1", stock_quantity=10)
    customer = CustomerFactory(username="ada-the-customer", email="ada.private@example.org")
    refresh = RefreshToken.for_user(customer)
    access = str(refresh.access_token)
    body = {
        "items": [{"sku": "MUG-1", "quantity": 1}],
        "shipping_address": ADDRESS,
        "password": PASSWORD,  # fields the API ignores, but a careless client might send
        "refresh": str(refresh),
    }
    headers = {
        "Authorization": f"Bearer {access}",
        "Cookie": "sessionid=s3ss10nc00k1ev4lue; csrftoken=csrfc00k1ev4lue",
        "X-Forwarded-For": "203.0.113.77",
        "User-Agent": "checkout-test/1.0",
    }
    secrets = [
        access,
        access.rsplit(".", 1)[1],  # the signature alone
        str(refresh),
        PASSWORD,
        "s3ss10nc00k1ev4lue",
        "csrfc00k1ev4lue",
        "203.0.113.77",
        "q53cr3t",
        *[ADDRESS[field] for field in ("name", "line1", "city", "postal_code")],
        "ada-the-customer",
        "ada.private@example.org",
    ]
    return post(stack, "/api/orders/?coupon=q53cr3t", body, headers), body, secrets


@pytest.mark.integration
def test_an_error_reaches_sentry_without_secrets_or_addresses(orders_fail_in_the_database, capture, web_reporting_to):
    # Given a request full of secrets, when placing its order fails in the database
    status, body, secrets = place_an_order_full_of_secrets(web_reporting_to)
    wait_until(lambda: capture.items("event"), timeout=15, what="an event at the capture server")

    # Then Sentry hears of the error: its type, where it happened, the request ...
    [event] = capture.items("event")
    statements = [crumb for crumb in event["breadcrumbs"]["values"] if crumb["category"] == "query"]
    assert status == 500
    assert [exception["type"] for exception in event["exception"]["values"]] == ["NotNullViolation", "IntegrityError"]
    assert event["exception"]["values"][-1]["value"] == (
        'null value in column "sentry_probe" of relation "sales_order" violates not-null constraint'
    )
    assert event["request"] == {
        "method": "POST",
        "url": f"{web_reporting_to.base_url}/api/orders/",
        "headers": {
            "Content-Length": str(len(json.dumps(body))),
            "Content-Type": "application/json",
            "Host": web_reporting_to.base_url.removeprefix("http://"),
            "User-Agent": "checkout-test/1.0",
        },
    }
    assert "user" not in event
    # ... errors only: no trace, and no breadcrumb per SQL statement (only the connection opened)
    assert [crumb["message"] for crumb in statements if crumb["message"] != "connect"] == []
    assert set(capture.item_counts()) == {"event"}
    # ... and nothing that was sent, nor the row: no token, password, cookie, address or user
    received = b"".join(capture.envelopes).decode()
    assert [secret for secret in secrets if secret in received] == []


@pytest.mark.integration
@pytest.mark.parametrize("traces_sample_rate", ["1.0"])
def test_a_traced_request_reaches_sentry_without_secrets_either(orders_fail_in_the_database, capture, web_reporting_to):
    # Given every request traced, when a request full of secrets fails in the database
    status, _, secrets = place_an_order_full_of_secrets(web_reporting_to)

    def orders_traced() -> list[dict]:
        return [item for item in capture.items("transaction") if item["transaction"] == "/api/orders/"]

    wait_until(orders_traced, timeout=15, what="its transaction at the capture server")

    # Then its trace has the SQL statements, with placeholders, and nothing that was sent (the
    # order is written by one statement, sales.services._ORDER_WRITE)
    [transaction] = orders_traced()
    insert = next(span for span in transaction["spans"] if "INSERT INTO sales_order " in span["description"])
    received = b"".join(capture.envelopes).decode()
    assert status == 500
    assert "%(skus)s" in insert["description"]  # the placeholder, not the values
    assert [secret for secret in secrets if secret in received] == []


@pytest.mark.integration
def test_a_worker_error_reaches_sentry_without_the_message(transactional_db, capture, tmp_path):
    # Given a delivery worker with SENTRY_DSN set (errors only: no Celery integration)
    stack = on_test_database(logs=tmp_path, extra_env={"SENTRY_DSN": capture.dsn})
    message_id = "5b0c7c1e-0000-4000-8000-000000000002"
    forged = {"id": message_id, "type": "order.created", "version": 1, "payload": {"shipping_address": ADDRESS}}

    def dead_letters() -> list[dict]:
        return [event for event in capture.items("event") if event.get("logger") == "messaging.consumer"]

    try:
        stack.start_redis()
        stack.start_worker("worker-delivery-1")

        # When it receives a message it cannot trust (no signature), which carries an address
        stack.push_raw("delivery.order_created", forged | {"signature": "forged"})
        wait_until(dead_letters, timeout=30, what="the dead letter's event at the capture server")
    finally:
        stack.stop()
        print(stack.log_tails())

    # Then Sentry hears of the dead letter through the worker's log: what and which, not the address
    [event] = dead_letters()
    received = b"".join(capture.envelopes).decode()
    assert (event["level"], event["logentry"]) == ("error", {"message": "message dead-lettered"})
    assert sorted(event["extra"]) == ["app", "correlation_id", "message_id", "sys.argv", "type"]  # no reason, no error
    assert (event["extra"]["app"], event["extra"]["message_id"], event["extra"]["type"]) == (
        "delivery",
        message_id,
        "order.created",
    )
    assert [value for value in ADDRESS.values() if value in received] == []


def test_a_task_error_keeps_the_task_name_but_not_its_arguments():
    # Given the extra fields Sentry's Celery integration adds to a failed task's event
    envelope = {"type": "order.created", "payload": {"shipping_address": ADDRESS}}
    event = {
        "extra": {
            "celery-job": {"task_name": "delivery.order_created", "args": [envelope], "kwargs": {}},
            "sys.argv": ["celery", "-A", "config", "worker"],
            "message_id": "5b0c7c1e-0000-4000-8000-000000000001",
            "error": "KeyError('Geheimweg 77')",
        },
        "tags": {"celery_task_id": "8f14e45f"},
    }

    scrubbed = before_send(event, {})

    assert scrubbed == {
        "extra": {
            "celery-job": {"task_name": "delivery.order_created"},
            "sys.argv": ["celery", "-A", "config", "worker"],
            "message_id": "5b0c7c1e-0000-4000-8000-000000000001",
        },
        "tags": {"celery_task_id": "8f14e45f"},
    }


def test_a_log_line_becomes_a_breadcrumb_with_its_template_and_its_ids_only():
    record = logging.LogRecord("sales.services", logging.INFO, __file__, 1, "shipping to %s", ("Geheimweg 77",), None)
    crumb = {
        "type": "log",
        "category": "sales.services",
        "message": "shipping to Geheimweg 77",
        "data": {"order_id": "ORD-7K3M9QX2B4TZ0W1C", "shipping_address": ADDRESS, "reason": "leave it with Ada"},
    }

    scrubbed = before_breadcrumb(crumb, {"log_record": record})

    assert scrubbed == {
        "type": "log",
        "category": "sales.services",
        "message": "shipping to %s",
        "data": {"order_id": "ORD-7K3M9QX2B4TZ0W1C"},
    }


def test_a_redis_breadcrumb_keeps_the_command_not_the_key():
    # The throttles count per client address: their keys hold it.
    crumb = {
        "type": "redis",
        "category": "redis",
        "message": "INCR 'throttle:auth_address:203.0.113.77:29061120'",
        "data": {"redis.command": "INCR", "redis.key": "throttle:auth_address:203.0.113.77:29061120"},
    }

    scrubbed = before_breadcrumb(crumb, None)

    assert scrubbed == {"type": "redis", "category": "redis", "message": "INCR", "data": {"redis.command": "INCR"}}


def test_a_message_keeps_its_first_line_without_database_values_or_tokens():
    event = {
        "message": "refresh eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl refused",
        "exception": {
            "values": [
                {
                    "type": "IntegrityError",
                    "value": 'duplicate key value violates unique constraint "accounts_user_username_key"\n'
                    "DETAIL:  Key (username)=(ada) already exists.\n",
                    "stacktrace": {"frames": [{"function": "register", "lineno": 3, "vars": {"password": PASSWORD}}]},
                }
            ]
        },
    }

    scrubbed = before_send(event, {})

    assert scrubbed == {
        "message": "refresh [Filtered] refused",
        "exception": {
            "values": [
                {
                    "type": "IntegrityError",
                    "value": 'duplicate key value violates unique constraint "accounts_user_username_key"',
                    "stacktrace": {"frames": [{"function": "register", "lineno": 3}]},
                }
            ]
        },
    }

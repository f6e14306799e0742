"""Health, request ids, metrics, API schema, throttling and limits."""

import io
import json
import logging
import re

import pytest
import redis
import yaml
from drf_spectacular.validation import validate_schema

from sales.models import OutboxMessage, Product
from tests.factories import ADDRESS
from tests.metrics import scrape

pytestmark = pytest.mark.django_db


def order(sku="MUG-1", quantity=1):
    return {"items": [{"sku": sku, "quantity": quantity}], "shipping_address": ADDRESS}


# --- health ---------------------------------------------------------------------------------


def test_healthz(client):
    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_when_everything_answers(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_readyz_names_what_failed(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "redis": "failed: ConnectionError"},
        "failed": ["redis"],
    }


# --- request ids ----------------------------------------------------------------------------


def test_a_given_request_id_is_answered_and_travels_into_the_message(customer_client, mug):
    response = customer_client.post("/api/orders/", order(), HTTP_X_REQUEST_ID="req-4711")

    assert response["X-Request-ID"] == "req-4711"
    assert OutboxMessage.objects.get().correlation_id == "req-4711"
    assert OutboxMessage.objects.get().envelope["correlation_id"] == "req-4711"


@pytest.mark.parametrize("given", [None, "", "has spaces", "x" * 65])
def test_a_missing_or_odd_request_id_is_replaced(client, given):
    headers = {} if given is None else {"HTTP_X_REQUEST_ID": given}

    response = client.get("/healthz", **headers)

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


# --- metrics --------------------------------------------------------------------------------


def test_metrics_count_orders_requests_and_the_outbox(client, customer_client, mug):
    before = scrape(client)

    customer_client.post("/api/orders/", order())
    customer_client.post("/api/orders/", order(quantity=11))
    customer_client.post("/api/orders/", order(sku="NOPE"))
    after = scrape(client)

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("orders_placed_total") == 1
    assert delta("orders_refused_total", reason="unavailable") == 1
    assert delta("orders_refused_total", reason="unknown_product") == 1
    assert delta("http_requests_total", view="order-list", method="POST", code="201") == 1
    assert delta("http_requests_total", view="order-list", method="POST", code="409") == 1
    assert delta("http_request_duration_seconds_count", view="order-list") == 3
    assert after[("outbox_pending", (("app", "sales"),))] == 1
    assert after[("outbox_pending", (("app", "delivery"),))] == 0
    assert after[("outbox_oldest_pending_age_seconds", (("app", "sales"),))] >= 0


# --- logs -----------------------------------------------------------------------------------


@pytest.fixture
def log_lines():
    """What the configured console handler writes, caught in memory."""
    configured = logging.getLogger().handlers[0]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(configured.formatter)
    for log_filter in configured.filters:
        handler.addFilter(log_filter)
    logging.getLogger().addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logging.getLogger().removeHandler(handler)


def test_log_lines_are_json_with_the_correlation_id(customer_client, mug, log_lines):
    customer_client.post("/api/orders/", order(), HTTP_X_REQUEST_ID="req-logs")

    lines = log_lines()
    placed = next(line for line in lines if line["message"] == "order placed")
    request = next(line for line in lines if line["message"] == "request")
    assert placed["correlation_id"] == request["correlation_id"] == "req-logs"
    assert placed["order_id"].startswith("ORD-")
    assert (placed["level"], placed["logger"], placed["lines"], placed["total"]) == (
        "INFO",
        "sales.services",
        1,
        "12.50",
    )
    assert (request["path"], request["status"], request["view"]) == ("/api/orders/", 201, "order-list")
    assert "Ada" not in json.dumps(lines)  # no names or addresses in logs


# --- OpenAPI --------------------------------------------------------------------------------


def test_schema_is_valid_openapi_and_covers_every_api_path(client):
    response = client.get("/api/schema/")

    schema = yaml.safe_load(response.content)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert sorted(schema["paths"]) == [
        "/api/auth/logout/",
        "/api/auth/password/change/",
        "/api/auth/register/",
        "/api/auth/token/",
        "/api/auth/token/refresh/",
        "/api/delivery/shipments/",
        "/api/delivery/shipments/{id}/",
        "/api/delivery/shipments/{id}/deliver/",
        "/api/delivery/shipments/{id}/ship/",
        "/api/orders/",
        "/api/orders/{id}/",
        "/api/orders/{id}/cancel/",
        "/api/products/",
        "/api/products/{sku}/",
    ]
    assert schema["components"]["securitySchemes"]["jwtAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }


def test_schema_documents_the_error_answers(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)

    create = schema["paths"]["/api/orders/"]["post"]
    assert sorted(create["responses"]) == ["201", "400", "401", "409", "422", "429"]
    assert sorted(schema["paths"]["/api/orders/{id}/"]["get"]["responses"]) == ["200", "401", "404", "429"]
    assert sorted(schema["paths"]["/api/delivery/shipments/{id}/deliver/"]["post"]["responses"]) == [
        "200",
        "401",
        "403",
        "404",
        "409",
        "429",
    ]
    assert [p["name"] for p in create["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]


def test_interactive_docs_are_served_without_a_cdn(client):
    response = client.get("/api/docs/")

    content = response.content.decode()
    assert response.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in content
    assert re.findall(r'(?:src|href)="(https?://[^"]*)"', content) == []  # nothing from elsewhere


# --- throttling and limits --------------------------------------------------------------------


@pytest.fixture
def strict_rates(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "orders": "2/hour",  # an hour's window: the test never straddles two
            "auth_address": "3/hour",
        },
    }


def test_placing_orders_is_throttled_per_user_with_retry_after(customer_client, mug, strict_rates):
    codes = [customer_client.post("/api/orders/", order()).status_code for _ in range(3)]
    throttled = customer_client.post("/api/orders/", order())

    assert codes == [201, 201, 429]
    assert int(throttled["Retry-After"]) > 0
    assert throttled.json()["detail"].startswith("Request was throttled.")
    assert Product.objects.get().stock_quantity == 8
    assert customer_client.get("/api/orders/").status_code == 200  # reading is not limited by it


def test_log_in_is_throttled_per_address(anon_client, customer, strict_rates):
    wrong = {"username": customer.username, "password": "wrong"}

    codes = [anon_client.post("/api/auth/token/", wrong).status_code for _ in range(4)]

    assert codes == [401, 401, 401, 429]


def test_throttling_lets_requests_through_when_redis_is_away(customer_client, mug, settings, strict_rates):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    codes = [customer_client.post("/api/orders/", order()).status_code for _ in range(3)]

    assert codes == [201, 201, 201]


@pytest.mark.parametrize(
    "failure",
    [OSError(9, "Bad file descriptor"), ValueError("I/O operation on closed file.")],
    ids=["socket closed", "read buffer closed"],
)
def test_throttling_lets_requests_through_when_redis_breaks_mid_read(
    customer_client, mug, monkeypatch, strict_rates, failure
):
    # What redis-py raises when a connection's socket is closed under it (seen under load).
    def broken(self, *args, **kwargs):
        raise failure

    monkeypatch.setattr(redis.client.Pipeline, "execute", broken)

    codes = [customer_client.post("/api/orders/", order()).status_code for _ in range(3)]

    assert codes == [201, 201, 201]


def test_an_order_counts_against_each_limit_that_applies(customer_client, customer, mug, settings):
    customer_client.post("/api/orders/", order())

    counters = redis.Redis.from_url(settings.REDIS_URL)
    windows = {key.decode().rsplit(":", 1)[0]: int(counters.get(key)) for key in counters.scan_iter("throttle:*")}
    assert windows == {
        f"throttle:user:user-{customer.pk}": 1,
        f"throttle:orders:user-{customer.pk}": 1,
        "throttle:orders_address:address-127.0.0.1": 1,
    }


def test_an_oversized_body_is_refused(customer_client, mug):
    body = json.dumps({"items": [{"sku": "X" * 1000, "quantity": 1}] * 300, "shipping_address": ADDRESS})

    response = customer_client.generic("POST", "/api/orders/", body, content_type="application/json")

    assert (response.status_code, response.json()) == (
        413,
        {"detail": "The request body is larger than the 262144 bytes allowed."},
    )
    assert Product.objects.get().stock_quantity == 10


def test_task_arguments_never_reach_the_logs(log_lines):
    logging.getLogger("celery.app.trace").error(  # a task's failure, which Celery logs with its arguments
        "Task failed", extra={"data": {"id": "t-1", "name": "delivery.order_created", "args": "[{'name': 'Ada'}]"}}
    )

    assert log_lines()[-1]["data"] == {"id": "t-1", "name": "delivery.order_created"}

"""The database hung (SIGSTOP on every server process) or stopped for 10 s, and Redis restarted,
under load, with every process of the system running: clients get a JSON 503 with Retry-After
within seconds, /healthz stays fast, no process dies, and every order a customer tried (retried
with its Idempotency-Key after a 503) exists once and is shipped once.

The database here is a cluster of its own (tests/integration/postgres.py): the suite's own goes
on answering. Figures are printed; run with -s to see them."""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import ADDRESS
from tests.integration.postgres import Postgres
from tests.integration.stack import ROOT, Stack, wait_until

pytestmark = pytest.mark.integration

ORDER = {"items": [{"sku": "MUG-1", "quantity": 1}], "shipping_address": ADDRESS}
PASSWORD = "outage-test-password-4711"


@dataclass(frozen=True)
class Answer:
    at: float  # when the request was sent (time.monotonic())
    seconds: float
    status: int
    content_type: str
    retry_after: str | None
    body: object
    key: str | None = None  # the Idempotency-Key it was sent with


def call(
    base_url: str, method: str, path: str, body: object = None, token: str | None = None, key: str | None = None
) -> Answer:
    request = urllib.request.Request(
        base_url + path, data=None if body is None else json.dumps(body).encode(), method=method
    )
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if key:
        request.add_header("Idempotency-Key", key)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, error.headers, error.read()
    content_type = headers.get("Content-Type", "")
    parsed = json.loads(raw) if content_type.startswith("application/json") else raw.decode(errors="replace")
    return Answer(started, time.monotonic() - started, status, content_type, headers.get("Retry-After"), parsed, key)


class Load:
    """Customers placing orders, and a probe of /healthz, until stopped."""

    def __init__(self, stack: Stack, token: str, clients: int = 3) -> None:
        self.stack, self.token = stack, token
        self.orders: list[Answer] = []
        self.health: list[Answer] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._customer) for _ in range(clients)]
        self._threads.append(threading.Thread(target=self._probe))

    def _customer(self) -> None:
        while not self._stop.is_set():
            self.orders.append(self.place(str(uuid.uuid4())))
            time.sleep(0.05)

    def place(self, key: str) -> Answer:
        return call(self.stack.base_url, "POST", "/api/orders/", ORDER, self.token, key)

    def settle(self) -> dict[str, str]:
        """What a careful client does after an outage: every order refused with a 503 is sent
        again with its Idempotency-Key until it is answered. Returns each key's order id."""
        placed = {answer.key: answer.body["id"] for answer in self.orders if answer.status == 201}
        pending = {answer.key for answer in self.orders if answer.status != 201}
        give_up_at = time.monotonic() + 90
        while pending and time.monotonic() < give_up_at:
            for key in sorted(pending):
                answer = self.place(key)
                if answer.status == 201:
                    placed[key] = answer.body["id"]
                    pending.discard(key)
            if pending:
                time.sleep(1)  # 409: the first try's claim is still held (10 s at most)
        assert not pending, f"{len(pending)} orders never answered"
        return placed

    def _probe(self) -> None:
        while not self._stop.is_set():
            self.health.append(call(self.stack.base_url, "GET", "/healthz"))
            time.sleep(0.2)

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def orders_between(self, start: float, end: float) -> list[Answer]:
        return [answer for answer in self.orders if start <= answer.at < end]


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    server = Postgres()
    try:
        server.start()
        server.create_database("template_orders")
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT, env=django_env(server.url("template_orders")), check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        yield server
    finally:
        server.destroy()


def django_env(database_url: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "MESSAGE_SIGNING_KEY": settings.MESSAGE_SIGNING_KEY,
        "DJANGO_HTTPS": "0",
    }


@pytest.fixture
def system(postgres: Postgres, tmp_path: Path) -> Iterator[tuple[Stack, str, str]]:
    """Every process of the system (web, both workers, relay, beat) on a fresh copy of the
    migrated database, a product with plenty of stock, and a customer's access token."""
    name = f"outage_{uuid.uuid4().hex[:8]}"
    postgres.create_database(name, template="template_orders")
    seed = (
        "from django.contrib.auth import get_user_model; from sales.models import Product; "
        "Product.objects.create(sku='MUG-1', name='Mug', price='12.50', stock_quantity=100000); "
        f"get_user_model().objects.create_user('buyer', 'buyer@example.com', '{PASSWORD}')"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", seed],
        cwd=ROOT, env=django_env(postgres.url(name)), check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    stack = Stack(
        logs=tmp_path,
        database_url=postgres.url(name),
        secret_key=settings.SECRET_KEY,
        signing_key=settings.MESSAGE_SIGNING_KEY,
        workers_per_queue=1,
        extra_env={"THROTTLE_ORDERS": "100000/min", "THROTTLE_USER": "100000/min"},
    )
    try:
        stack.start_all()
        stack.start_beat()
        answer = call(stack.base_url, "POST", "/api/auth/token/", {"username": "buyer", "password": PASSWORD})
        assert answer.status == 200
        yield stack, name, answer.body["access"]
    finally:
        stack.stop()
        print(stack.log_tails())


def during(seconds: float, action: Callable[[], None], undo: Callable[[], None]) -> tuple[float, float]:
    started = time.monotonic()
    action()
    try:
        time.sleep(seconds)
    finally:
        undo()
    return started, time.monotonic()


def assert_every_order_placed_once_and_shipped_once(postgres: Postgres, database: str, load: Load) -> float:
    """Every order a customer tried (an Idempotency-Key) exists exactly once, and has exactly one
    shipment. A request that timed out while its COMMIT was on its way was answered 503 although
    the server committed it: its retry with the same key finds that order, no second one."""
    placed = load.settle()
    accepted_at_once = sum(answer.status == 201 for answer in load.orders)

    def converged() -> bool:
        in_flight = "SELECT count(*) FROM {} WHERE state IN ('pending', 'awaiting_ack')"
        shipments = postgres.query(database, "SELECT count(*) FROM delivery_shipment")[0][0]
        return (
            shipments == len(placed)
            and postgres.query(database, in_flight.format("sales_outboxmessage"))[0][0] == 0
            and postgres.query(database, in_flight.format("delivery_outboxmessage"))[0][0] == 0
        )

    seconds = wait_until(converged, timeout=120, interval=0.5, what="every order shipped")
    shipped = sorted(row[0] for row in postgres.query(database, "SELECT order_id FROM delivery_shipment"))
    in_database = sorted(row[0] for row in postgres.query(database, "SELECT id FROM sales_order"))
    given_up = postgres.query(
        database,
        "SELECT (SELECT count(*) FROM sales_deadletter) + (SELECT count(*) FROM delivery_deadletter)"
        " + (SELECT count(*) FROM sales_outboxmessage WHERE state = 'abandoned')"
        " + (SELECT count(*) FROM delivery_outboxmessage WHERE state = 'abandoned')",
    )[0][0]
    assert len(set(placed.values())) == len(placed) == len({answer.key for answer in load.orders})
    assert shipped == in_database == sorted(placed.values())
    assert given_up == 0
    print(f"\n{len(placed)} orders tried, {accepted_at_once} accepted at once, the rest after the outage", end="")
    return seconds


def assert_refused_clearly_and_quickly(answers: list[Answer]) -> None:
    refused = [answer for answer in answers if answer.status != 201]
    assert refused, "the outage refused no order: it did not happen under load"
    assert {answer.status for answer in refused} == {503}
    assert {answer.content_type for answer in refused} == {"application/json"}
    assert {answer.retry_after for answer in refused} == {"5"}
    assert all(set(answer.body) == {"detail"} for answer in refused)
    assert max(answer.seconds for answer in answers) < 5.0


def report(what: str, load: Load, window: tuple[float, float], converged: float) -> None:
    inside = load.orders_between(*window)
    slowest = max(answer.seconds for answer in inside)
    health = max(answer.seconds for answer in load.health)
    codes = sorted({answer.status for answer in inside})
    print(
        f"\n{what}: {len(inside)} order requests during it, answers {codes}, slowest {slowest:.2f}s;"
        f" /healthz slowest {health:.3f}s over {len(load.health)} probes;"
        f" every order placed once and shipped once, converged {converged:.1f}s after"
    )


OUTAGES = {
    # what, seconds, how it starts, how it ends
    "frozen": ("database frozen 8 s", 8, Postgres.freeze, Postgres.thaw),  # every server process SIGSTOPped
    "stopped": ("database stopped 10 s", 10, Postgres.stop, Postgres.start),
}


@pytest.mark.parametrize("outage", OUTAGES)
def test_a_database_outage_gets_json_503s_within_seconds_and_no_process_dies(postgres, system, outage):
    what, seconds, begin, end = OUTAGES[outage]
    stack, database, token = system
    with Load(stack, token) as load:
        time.sleep(2)
        window = during(seconds, lambda: begin(postgres), lambda: end(postgres))
        wait_until(lambda: load.orders and load.orders[-1].status == 201, timeout=30, what="orders accepted again")
        time.sleep(2)

    assert_refused_clearly_and_quickly(load.orders_between(*window))
    assert {answer.status for answer in load.health} == {200}
    assert max(answer.seconds for answer in load.health) < 2.0
    assert stack.exited() == {}
    assert stack.worker_restarts == 0
    converged = assert_every_order_placed_once_and_shipped_once(postgres, database, load)
    report(what, load, window, converged)


def test_readiness_says_what_is_down_quickly_while_the_database_is_hung(postgres, system):
    stack, _, _ = system
    postgres.freeze()
    try:
        answers = [call(stack.base_url, "GET", "/readyz") for _ in range(3)]
    finally:
        postgres.thaw()

    assert [(answer.status, answer.body["failed"]) for answer in answers] == [(503, ["database"])] * 3
    assert max(answer.seconds for answer in answers) < 2.5


def test_a_redis_restart_under_load_kills_no_process_and_loses_no_order(postgres, system):
    stack, database, token = system
    with Load(stack, token) as load:
        time.sleep(2)
        window = during(5, lambda: stack.kill("redis"), stack.start_redis)
        time.sleep(5)

    assert {answer.status for answer in load.orders} == {201}  # the database was there throughout
    assert stack.exited() == {}
    assert stack.worker_restarts == 0
    converged = assert_every_order_placed_once_and_shipped_once(postgres, database, load)
    report("redis killed and restarted empty", load, window, converged)

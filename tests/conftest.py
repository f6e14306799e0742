"""Fixtures that tests in more than one folder use; a folder's own fixtures are in its conftest.py."""

import pytest
import redis
from django.conf import global_settings
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts import authentication
from core.db import breaker
from messaging import transport
from messaging.acks import ack_list
from messaging.transport import task_named
from tests.clients import bearer_client, session_client
from tests.factories import ClerkFactory, CustomerFactory, ProductFactory, StaffFactory
from tests.integration.stack import on_test_database


@pytest.fixture(scope="session", autouse=True)
def _real_postgresql(django_db_setup, django_db_blocker):
    # The suite's guarantees (row locks, constraints, concurrency) are PostgreSQL's.
    with django_db_blocker.unblock():
        assert connection.vendor == "postgresql", "the tests run on PostgreSQL: set DATABASE_URL or use make test"


@pytest.fixture
def customer(db):
    return CustomerFactory()


@pytest.fixture
def staff(db):
    return StaffFactory()


@pytest.fixture
def clerk(db):
    return ClerkFactory()


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def customer_client(customer) -> APIClient:
    return bearer_client(customer)


@pytest.fixture
def staff_client(staff) -> APIClient:
    return bearer_client(staff)


@pytest.fixture
def staff_browser(staff) -> Client:
    return session_client(staff)


@pytest.fixture
def clerk_browser(clerk) -> Client:
    return session_client(clerk)


@pytest.fixture
def mug(db):
    return ProductFactory(sku="MUG-1", name="Enamel mug", price="12.50", stock_quantity=10)


@pytest.fixture(autouse=True)
def _test_settings(settings):
    # Rate-limit counters and acknowledgement lists (in the test Redis) start empty in every test.
    client = redis.Redis.from_url(settings.REDIS_URL)
    stale = [*client.scan_iter("throttle:*"), *client.scan_iter(ack_list("*"))]
    if stale:
        client.delete(*stale)
    client.close()


@pytest.fixture(autouse=True)
def _database_breaker_closed():
    # A test that made the database fail leaves this process's breaker (core.db) open; the next
    # test starts with it closed, as a process would after the cooldown.
    yield
    breaker.reset()


@pytest.fixture(autouse=True)
def _users_read_afresh():
    # Each test reads its users from its own database rows, not from a row an earlier test's
    # request left in this process's cache (accounts.authentication).
    authentication.forget_all()


class Broker:
    """Stands in for Celery's Redis in unit tests: records each published envelope and, when
    ``deliver`` is on, runs the receiving task at once (Celery eager) in this process.
    Acknowledgements go to the test Redis (REDIS_URL), where ``acknowledgements_apply`` takes
    them as the relay would. The integration tests use a real Redis and real workers instead."""

    def __init__(self) -> None:
        self.published: list[dict] = []
        self.deliver = True
        self.down = False
        self.busy: set[str] = set()  # queues that hold messages nobody has taken yet
        # Message id -> what publishing it raises with the broker there (a module missing, a
        # message that cannot be encoded): a failure that is not the broker being away.
        self.failing: dict[str, Exception] = {}

    def publish(self, envelope: dict) -> None:
        if self.down:
            raise ConnectionError("broker down")
        if envelope["id"] in self.failing:
            raise self.failing[envelope["id"]]
        self.published.append(envelope)
        if self.deliver:
            task_named(transport.task_for(envelope)).apply(args=[envelope], throw=False)

    def busy_queues(self) -> set[str]:
        if self.down:
            raise ConnectionError("broker down")
        return self.busy

    def types(self) -> list[str]:
        return [envelope["type"] for envelope in self.published]


@pytest.fixture
def broker(monkeypatch) -> Broker:
    broker = Broker()
    monkeypatch.setattr(transport, "publish", broker.publish)
    monkeypatch.setattr(transport, "busy_queues", broker.busy_queues)
    return broker


@pytest.fixture
def stack_env() -> dict[str, str]:
    """Extra environment for the live system's processes; a test module overrides it."""
    return {}


@pytest.fixture
def stack(transactional_db, tmp_path, stack_env, settings):
    """The live system on loopback (see tests/integration/stack.py), on the test database."""
    # Users made for it log in to it, and it checks passwords with the production settings'
    # hashers (Django's), not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    stack = on_test_database(logs=tmp_path, extra_env=stack_env)
    try:
        stack.start_all()
        yield stack
    finally:
        stack.stop()
        # Shown by pytest only when the test failed: what each process said last.
        print(stack.log_tails())

"""A process reads an API caller's user at most once every USER_CACHE_SECONDS
(accounts/authentication.py): a deactivated user or a changed password is refused by every
process within that time, and at once by the process that changed the password."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import authentication
from tests.clients import bearer_client
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-and-long-passphrase"


@pytest.fixture
def clock(monkeypatch):
    """The cache's clock, moved on by hand."""

    class Clock:
        now = 1000.0

        def advance(self, seconds: float) -> None:
            self.now += seconds

    clock = Clock()
    monkeypatch.setattr(authentication.time, "monotonic", lambda: clock.now)
    return clock


def user_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/orders/").status_code == 200
    return sum('FROM "accounts_user"' in query["sql"] for query in queries.captured_queries)


def test_the_user_is_read_once_then_taken_from_the_cache_until_it_is_too_old(customer, clock):
    client = bearer_client(customer)

    first = user_queries(client)
    clock.advance(authentication.USER_CACHE_SECONDS - 0.1)
    within = user_queries(client)
    clock.advance(0.1)
    after = user_queries(client)

    assert (first, within, after) == (1, 0, 1)


def test_a_deactivated_user_is_refused_once_the_cached_row_is_too_old(customer, clock):
    client = bearer_client(customer)
    assert client.get("/api/orders/").status_code == 200

    customer.is_active = False
    customer.save()
    clock.advance(authentication.USER_CACHE_SECONDS)
    response = client.get("/api/orders/")

    assert (response.status_code, response.json()) == (401, {"detail": "User is inactive", "code": "user_inactive"})


def test_a_password_set_elsewhere_ends_the_tokens_once_the_cached_row_is_too_old(customer, clock):
    client = bearer_client(customer)
    assert client.get("/api/orders/").status_code == 200

    customer.set_password(NEW_PASSWORD)  # another process: the admin, manage.py changepassword
    customer.save()
    still = client.get("/api/orders/").status_code
    clock.advance(authentication.USER_CACHE_SECONDS)
    response = client.get("/api/orders/")

    assert still == 200  # the window this cache allows
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "The user's password has been changed.", "code": "password_changed"},
    )


def test_a_password_changed_through_the_api_ends_the_old_tokens_at_once(customer, clock):
    client = bearer_client(customer)
    assert client.get("/api/orders/").status_code == 200

    changed = client.post("/api/auth/password/change/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD})
    response = client.get("/api/orders/")

    assert changed.status_code == 204
    assert response.status_code == 401


def test_another_token_of_a_cached_user_is_checked_against_the_cached_row(customer, clock):
    old_client = bearer_client(customer)
    customer.set_password(NEW_PASSWORD)
    customer.save()
    new_client = bearer_client(customer)  # issued under the new password

    assert new_client.get("/api/orders/").status_code == 200  # reads the row: new password
    response = old_client.get("/api/orders/")  # from the cache

    assert (response.status_code, response.json()["code"]) == (401, "password_changed")


def test_each_request_gets_its_own_copy_of_the_cached_user(customer, clock):
    client = bearer_client(customer)
    client.get("/api/orders/")
    (_, cached) = authentication._users[str(customer.pk)]

    cached_copy = authentication.CachedUserJWTAuthentication().get_user(
        authentication.CachedUserJWTAuthentication().get_validated_token(
            client._credentials["HTTP_AUTHORIZATION"].split()[1].encode()
        )
    )
    cached_copy.first_name = "changed by one request"

    assert cached_copy is not cached
    assert cached.first_name == ""


def test_the_cache_keeps_at_most_its_bound_dropping_old_rows(customer, clock, monkeypatch):
    monkeypatch.setattr(authentication, "MAX_CACHED_USERS", 2)
    authentication._users.update({"old-1": (clock.now, customer), "old-2": (clock.now, customer)})
    clock.advance(authentication.USER_CACHE_SECONDS)

    bearer_client(customer).get("/api/orders/")

    assert set(authentication._users) == {str(customer.pk)}

"""Repeated wrong passwords lock an account (django-axes; accounts/lockout.py), on the token
endpoint, the password change and both log-in forms, whatever address they come from."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessLog
from django.db.models import F
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import PASSWORD, CustomerFactory, StaffFactory

pytestmark = pytest.mark.django_db

LIMIT = 10  # the default of LOGIN_FAILURE_LIMIT
LOCKED = {"detail": "Too many wrong passwords: this account is locked for a while. Try again later."}
LOCKED_PAGE = "Too many wrong passwords: this account is locked. Try again in 15 minutes, or ask staff to unlock it."


@pytest.fixture(autouse=True)
def _rate_limits_out_of_the_way(settings):
    # The rate limits (THROTTLE_AUTH: 10 a minute per address, or per user) are a separate,
    # short guard, tested in tests/config; here they would answer before the lock does.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "auth": "1000/min",
            "auth_address": "1000/min",
        },
    }


def address(n: int) -> dict:
    """A request's origin: a different address and browser for every attempt, as a botnet's."""
    return {"REMOTE_ADDR": f"198.51.100.{n}", "HTTP_USER_AGENT": f"agent-{n}"}


def token(user, password, n=0):
    return APIClient().post("/api/auth/token/", {"username": user.username, "password": password}, **address(n))


def form_log_in(path, user, password, n=0):
    client = Client()
    return client, client.post(path, {"username": user.username, "password": password}, **address(n))


def assert_locked_out_page(response):
    assert response.status_code == 429
    assert 890 < int(response["Retry-After"]) <= 900  # 15 minutes from the last failure, give or take the test's run
    assert "registration/locked_out.html" in [t.name for t in response.templates]
    assert LOCKED_PAGE in response.content.decode()


# --- the token endpoint ---------------------------------------------------------------------


def test_wrong_passwords_from_many_addresses_lock_the_account(customer):
    codes = [token(customer, "wrong", n).status_code for n in range(LIMIT)]
    right = token(customer, PASSWORD, LIMIT)

    assert codes == [401] * (LIMIT - 1) + [429]
    assert (right.status_code, right.json()) == (429, LOCKED)
    assert 890 < int(right["Retry-After"]) <= 900  # 15 minutes from the last failure, give or take the test's run


def test_other_accounts_on_the_same_address_are_not_locked(customer):
    neighbour = CustomerFactory()
    for _ in range(LIMIT):
        token(customer, "wrong", n=7)

    response = token(neighbour, PASSWORD, n=7)

    assert response.status_code == 200
    assert token(customer, PASSWORD, n=7).status_code == 429


def test_the_lock_ends_after_the_lockout_time(customer):
    for n in range(LIMIT):
        token(customer, "wrong", n)

    locked = token(customer, PASSWORD)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=15))  # 15 minutes later
    later = token(customer, PASSWORD)

    assert (locked.status_code, later.status_code) == (429, 200)


def test_the_right_password_starts_the_count_afresh(customer):
    before = [token(customer, "wrong", n).status_code for n in range(LIMIT - 1)]
    right = token(customer, PASSWORD).status_code
    after = [token(customer, "wrong", n).status_code for n in range(LIMIT)]

    assert (before, right, after) == ([401] * (LIMIT - 1), 200, [401] * (LIMIT - 1) + [429])


def test_wrong_old_passwords_in_a_password_change_count_too(customer, customer_client):
    def change(old):
        return customer_client.post("/api/auth/password/change/", {"old_password": old, "new_password": "x-9fz!Qv#2"})

    for _ in range(LIMIT - 1):
        change("wrong")
    locking = change("wrong")
    right = change(PASSWORD)

    customer.refresh_from_db()
    assert (locking.status_code, locking.json()) == (429, LOCKED)
    assert (right.status_code, right.json()) == (429, LOCKED)
    assert customer.check_password(PASSWORD)
    assert token(customer, PASSWORD).status_code == 429


def test_successful_log_ins_leave_no_rows_behind(customer, clerk):
    token(customer, PASSWORD)
    form_log_in("/accounts/login/", clerk, PASSWORD)

    assert (AccessAttempt.objects.count(), AccessLog.objects.count()) == (0, 0)


# --- the log-in forms -----------------------------------------------------------------------


@pytest.mark.parametrize(("path", "who"), [("/accounts/login/", "clerk"), ("/admin/login/", "staff")])
def test_wrong_passwords_lock_the_account_on_the_log_in_forms(path, who, request):
    user = request.getfixturevalue(who)
    pages = [form_log_in(path, user, "wrong", n)[1] for n in range(LIMIT)]
    client, right = form_log_in(path, user, PASSWORD, LIMIT)

    assert [page.status_code for page in pages] == [200] * (LIMIT - 1) + [429]
    assert_locked_out_page(pages[-1])
    assert_locked_out_page(right)
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_an_overlong_username_is_a_wrong_password_on_the_forms(path):
    client = Client()

    pages = [client.post(path, {"username": "x" * 300, "password": "wrong"}) for _ in range(LIMIT)]

    assert [page.status_code for page in pages] == [200] * (LIMIT - 1) + [429]
    assert list(AccessAttempt.objects.values_list("username", "failures_since_start")) == [("x" * 255, LIMIT)]


def test_failures_add_up_across_the_api_and_the_forms():
    user = StaffFactory()
    for n in range(LIMIT // 2):
        token(user, "wrong", n)
        form_log_in("/accounts/login/", user, "wrong", n)

    _, response = form_log_in("/admin/login/", user, PASSWORD)

    assert_locked_out_page(response)


# --- unlocking ------------------------------------------------------------------------------


def test_staff_unlock_an_account_in_the_admin(customer, staff_browser):
    for n in range(LIMIT):
        token(customer, "wrong", n)
    assert token(customer, PASSWORD).status_code == 429

    response = staff_browser.post(
        "/admin/accounts/user/", {"action": "unlock", "_selected_action": [customer.pk]}, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == ["Unlocked 1 account(s)."]
    assert token(customer, PASSWORD).status_code == 200

from datetime import timedelta

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import services
from accounts.tasks import purge_expired_tokens
from accounts.tokens import AUTH_TIME_CLAIM, LoginRefreshToken
from tests.factories import PASSWORD, CustomerFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


def test_register_creates_a_customer(anon_client):
    response = anon_client.post(
        "/api/auth/register/",
        {"username": "ada", "password": "analytical-engine-1843", "email": "ada@example.com"},
        format="json",
    )

    user = User.objects.get(username="ada")
    assert response.status_code == 201
    assert response.json() == {"id": user.id, "username": "ada", "email": "ada@example.com"}
    assert user.check_password("analytical-engine-1843")
    assert (user.is_staff, user.is_superuser) == (False, False)


def test_register_refuses_a_taken_username(anon_client):
    CustomerFactory(username="ada")

    response = anon_client.post(
        "/api/auth/register/",
        {"username": "ada", "password": "analytical-engine-1843", "email": "ada@example.com"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "username": ["A user with that username already exists."],
    }


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1x", "This password is too short. It must contain at least 8 characters."),
        ("password123", "This password is too common."),
        ("8273645190", "This password is entirely numeric."),
    ],
)
def test_register_refuses_a_weak_password(anon_client, password, message):
    response = anon_client.post(
        "/api/auth/register/",
        {"username": "ada", "password": password, "email": "ada@example.com"},
        format="json",
    )

    assert response.status_code == 400
    assert message in response.json()["password"]
    assert User.objects.filter(username="ada").exists() is False


def test_register_refuses_a_password_like_the_username(anon_client):
    response = anon_client.post(
        "/api/auth/register/",
        {"username": "lovelace1815", "password": "lovelace1815", "email": "ada@example.com"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["password"] == ["The password is too similar to the username."]


def test_register_refuses_a_bad_email(anon_client):
    response = anon_client.post(
        "/api/auth/register/",
        {"username": "ada", "password": "analytical-engine-1843", "email": "not-an-email"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid input.", "email": ["Enter a valid email address."]}


def test_register_requires_every_field(anon_client):
    response = anon_client.post("/api/auth/register/", {}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "username": ["This field is required."],
        "email": ["This field is required."],
        "password": ["This field is required."],
    }


def test_token_for_good_credentials(anon_client, customer):
    response = anon_client.post("/api/auth/token/", {"username": customer.username, "password": PASSWORD})

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


def test_token_refused_for_bad_credentials(anon_client, customer):
    response = anon_client.post("/api/auth/token/", {"username": customer.username, "password": "wrong"})

    assert response.status_code == 401
    assert response.json() == {"detail": "No active account found with the given credentials"}


def test_refresh_rotates_and_blacklists_the_old_refresh_token(anon_client, customer):
    first = anon_client.post("/api/auth/token/", {"username": customer.username, "password": PASSWORD}).json()

    refreshed = anon_client.post("/api/auth/token/refresh/", {"refresh": first["refresh"]})
    replayed = anon_client.post("/api/auth/token/refresh/", {"refresh": first["refresh"]})

    assert refreshed.status_code == 200
    assert set(refreshed.json()) == {"access", "refresh"}
    assert refreshed.json()["refresh"] != first["refresh"]
    assert replayed.status_code == 401
    assert replayed.json()["detail"] == "Token is blacklisted"
    assert BlacklistedToken.objects.count() == 1


def test_new_access_token_works(anon_client, customer):
    tokens = anon_client.post("/api/auth/token/", {"username": customer.username, "password": PASSWORD}).json()
    access = anon_client.post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]}).json()["access"]
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")

    response = anon_client.get("/api/orders/")

    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/products/", "/api/products/MUG-1/", "/api/orders/", "/api/orders/ORD-X/"])
def test_api_needs_a_bearer_token(anon_client, path):
    response = anon_client.get(path)

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_garbled_token_is_refused(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    response = anon_client.get("/api/orders/")

    assert response.status_code == 401


# --- log-out, password change, deactivation -------------------------------------------------


def log_in(client, user, password=PASSWORD) -> dict:
    response = client.post("/api/auth/token/", {"username": user.username, "password": password})
    assert response.status_code == 200
    return response.json()


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def test_logout_ends_the_log_in_of_that_refresh_token(anon_client, customer):
    tokens = log_in(anon_client, customer)

    response = bearer(tokens["access"]).post("/api/auth/logout/", {"refresh": tokens["refresh"]})
    refreshed = anon_client.post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]})

    assert (response.status_code, response.content) == (204, b"")
    assert refreshed.status_code == 401
    assert refreshed.json() == {"detail": "Token is blacklisted", "code": "token_not_valid"}


def test_logout_leaves_the_users_other_log_ins_alone(anon_client, customer):
    phone, laptop = log_in(anon_client, customer), log_in(anon_client, customer)

    logout = bearer(phone["access"]).post("/api/auth/logout/", {"refresh": phone["refresh"]})
    codes = [
        anon_client.post("/api/auth/token/refresh/", {"refresh": t["refresh"]}).status_code for t in (phone, laptop)
    ]

    assert (logout.status_code, codes) == (204, [401, 200])


def test_logging_out_twice_is_harmless(anon_client, customer):
    tokens = log_in(anon_client, customer)
    client = bearer(tokens["access"])

    codes = [client.post("/api/auth/logout/", {"refresh": tokens["refresh"]}).status_code for _ in range(2)]

    assert codes == [204, 204]
    assert BlacklistedToken.objects.count() == 1


def test_logout_refuses_another_users_refresh_token(anon_client, customer):
    other = log_in(anon_client, CustomerFactory())
    mine = log_in(anon_client, customer)

    response = bearer(mine["access"]).post("/api/auth/logout/", {"refresh": other["refresh"]})

    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid input.", "refresh": ["This token belongs to another user."]}
    assert anon_client.post("/api/auth/token/refresh/", {"refresh": other["refresh"]}).status_code == 200


@pytest.mark.parametrize(
    ("token", "message"),
    [("not-a-token", "Token is invalid"), ("access", "Token has wrong type"), ("", "This field may not be blank.")],
)
def test_logout_refuses_what_is_not_a_refresh_token(anon_client, customer, token, message):
    tokens = log_in(anon_client, customer)
    given = tokens["access"] if token == "access" else token

    response = bearer(tokens["access"]).post("/api/auth/logout/", {"refresh": given})

    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid input.", "refresh": [message]}


@pytest.mark.parametrize("path", ["/api/auth/logout/", "/api/auth/password/change/"])
def test_logout_and_password_change_need_a_bearer_token(anon_client, path):
    response = anon_client.post(path, {})

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


NEW_PASSWORD = "difference-engine-1822"


def test_password_change_ends_every_token_issued_before(anon_client, customer):
    phone, laptop = log_in(anon_client, customer), log_in(anon_client, customer)

    response = bearer(phone["access"]).post(
        "/api/auth/password/change/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    refreshed = anon_client.post("/api/auth/token/refresh/", {"refresh": laptop["refresh"]})
    old_access = bearer(laptop["access"]).get("/api/orders/")

    assert (response.status_code, response.content) == (204, b"")
    assert refreshed.status_code == 401
    assert refreshed.json() == {"detail": "The user's password has been changed.", "code": "token_not_valid"}
    assert old_access.status_code == 401
    assert old_access.json() == {"detail": "The user's password has been changed.", "code": "password_changed"}
    assert bearer(phone["access"]).get("/api/orders/").status_code == 401


def test_after_a_password_change_only_the_new_password_logs_in(anon_client, customer):
    bearer(log_in(anon_client, customer)["access"]).post(
        "/api/auth/password/change/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    )

    old = anon_client.post("/api/auth/token/", {"username": customer.username, "password": PASSWORD})
    new = log_in(anon_client, customer, password=NEW_PASSWORD)

    assert old.status_code == 401
    assert bearer(new["access"]).get("/api/orders/").status_code == 200


def test_a_password_set_by_staff_ends_the_tokens_too(anon_client, customer):
    tokens = log_in(anon_client, customer)

    customer.set_password(NEW_PASSWORD)  # as the admin's password form or manage.py changepassword do
    customer.save()

    assert bearer(tokens["access"]).get("/api/orders/").status_code == 401
    assert anon_client.post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]}).status_code == 401


def test_password_change_refuses_a_wrong_old_password(anon_client, customer):
    client = bearer(log_in(anon_client, customer)["access"])

    response = client.post("/api/auth/password/change/", {"old_password": "wrong", "new_password": NEW_PASSWORD})

    customer.refresh_from_db()
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "old_password": ["Your old password was entered incorrectly. Please enter it again."],
    }
    assert customer.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("password", "messages"),
    [
        ("short1x", ["This password is too short. It must contain at least 8 characters."]),
        ("password123", ["This password is too common."]),
        ("8273645190", ["This password is entirely numeric."]),
    ],
)
def test_password_change_refuses_a_weak_new_password(anon_client, customer, password, messages):
    client = bearer(log_in(anon_client, customer)["access"])

    response = client.post("/api/auth/password/change/", {"old_password": PASSWORD, "new_password": password})

    customer.refresh_from_db()
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid input.", "new_password": messages}
    assert customer.check_password(PASSWORD)


def test_password_change_requires_both_fields(anon_client, customer):
    client = bearer(log_in(anon_client, customer)["access"])

    response = client.post("/api/auth/password/change/", {})

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "old_password": ["This field is required."],
        "new_password": ["This field is required."],
    }


def test_a_deactivated_users_tokens_are_refused(anon_client, customer):
    tokens = log_in(anon_client, customer)

    customer.is_active = False
    customer.save()
    access = bearer(tokens["access"]).get("/api/orders/")
    refreshed = anon_client.post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]})

    assert (access.status_code, access.json()) == (401, {"detail": "User is inactive", "code": "user_inactive"})
    assert refreshed.status_code == 401
    assert refreshed.json() == {"detail": "No active account found for the given token.", "code": "token_not_valid"}


def test_a_deleted_users_refresh_token_is_refused(anon_client, customer):
    tokens = log_in(anon_client, customer)

    customer.delete()
    refreshed = anon_client.post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]})

    assert refreshed.status_code == 401
    assert refreshed.json() == {"detail": "No active account found for the given token.", "code": "token_not_valid"}


# --- the absolute lifetime of a log-in ------------------------------------------------------


def logged_in_ago(user, ago: timedelta) -> str:
    """The refresh token of a log-in that happened ``ago``."""
    token = LoginRefreshToken.for_user(user)
    then = token.current_time - ago
    token.set_iat(at_time=then)
    token.set_exp(from_time=then)
    token[AUTH_TIME_CLAIM] = token["iat"]
    return str(token)


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_rotation_keeps_the_log_in_time_and_expiry(anon_client, customer):
    first = logged_in_ago(customer, timedelta(days=3))

    second = anon_client.post("/api/auth/token/refresh/", {"refresh": first}).json()["refresh"]
    third = anon_client.post("/api/auth/token/refresh/", {"refresh": second}).json()["refresh"]

    assert [(claims(t)["auth_time"], claims(t)["exp"]) for t in (second, third)] == [
        (claims(first)["auth_time"], claims(first)["exp"])
    ] * 2
    assert claims(first)["exp"] - claims(first)["auth_time"] == timedelta(days=7).total_seconds()
    assert len({claims(t)["jti"] for t in (first, second, third)}) == 3


def test_a_log_in_gives_its_tokens_the_log_in_time(anon_client, customer):
    tokens = log_in(anon_client, customer)

    refresh, access = claims(tokens["refresh"]), claims(tokens["access"])

    assert refresh["auth_time"] == refresh["iat"] == access["auth_time"]
    assert refresh["exp"] - refresh["iat"] == timedelta(days=7).total_seconds()


def test_an_access_token_never_outlives_its_log_in(anon_client, customer):
    ending = logged_in_ago(customer, timedelta(days=7) - timedelta(minutes=5))

    access = anon_client.post("/api/auth/token/refresh/", {"refresh": ending}).json()["access"]

    assert claims(access)["exp"] == claims(ending)["exp"]


def test_a_refresh_token_is_rotated_once_even_when_two_requests_race(customer):
    raw = str(LoginRefreshToken.for_user(customer))
    # Both requests decoded (and checked against the blacklist) before either rotated it.
    first, second = LoginRefreshToken(raw), LoginRefreshToken(raw)

    services.refresh_token_rotate(refresh=first)

    with pytest.raises(TokenError, match="Token is blacklisted"):
        services.refresh_token_rotate(refresh=second)
    assert OutstandingToken.objects.filter(user=customer).count() == 2


def test_tokens_are_forgotten_once_their_log_in_has_ended(anon_client, customer):
    ended, live = log_in(anon_client, customer), log_in(anon_client, customer)
    bearer(ended["access"]).post("/api/auth/logout/", {"refresh": ended["refresh"]})
    OutstandingToken.objects.filter(jti=claims(ended["refresh"])["jti"]).update(expires_at=timezone.now())

    purge_expired_tokens.apply()

    assert list(OutstandingToken.objects.values_list("jti", flat=True)) == [claims(live["refresh"])["jti"]]
    assert BlacklistedToken.objects.exists() is False

import pytest
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

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

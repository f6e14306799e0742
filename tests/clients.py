"""Clients logged in as a given user, for tests that need one beyond the conftest fixtures."""

from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken


def bearer_client(user) -> APIClient:
    """An API client that sends ``user``'s access token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def session_client(user) -> Client:
    """A browser-like client, logged in with a session (admin, clerk pages)."""
    client = Client()
    client.force_login(user)
    return client

import pytest
from rest_framework.test import APIClient

from tests.clients import bearer_client


@pytest.fixture
def clerk_client(clerk) -> APIClient:
    return bearer_client(clerk)

import pytest

from tests.wsgi_client import connection_kept


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # The fuzz tests call the WSGI application itself, which would otherwise close the database
    # connection after each request, and with it the test's transaction.
    with connection_kept():
        yield

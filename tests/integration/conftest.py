import pytest
from django.conf import settings
from django.db import connection

from tests.integration.stack import Stack


@pytest.fixture
def stack(transactional_db, tmp_path):
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    stack = Stack(
        logs=tmp_path,
        database_url=database_url,
        secret_key=settings.SECRET_KEY,
        signing_key=settings.MESSAGE_SIGNING_KEY,
    )
    try:
        stack.start_all()
        yield stack
    finally:
        stack.stop()
        # Shown by pytest only when the test failed: what each process said last.
        print(stack.log_tails())


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)

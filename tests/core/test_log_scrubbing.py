"""Log lines never carry the row values PostgreSQL quotes in its DETAIL lines, nor tokens."""

import json
import logging

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from rest_framework_simplejwt.tokens import RefreshToken

from core.context import JsonFormatter
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def formatted(record: logging.LogRecord) -> dict:
    return json.loads(JsonFormatter("%(levelname)s %(message)s").format(record))


def a_record(message: str, exc_info=None, **extra) -> logging.LogRecord:
    record = logging.LogRecord("test", logging.ERROR, __file__, 1, message, None, exc_info)
    record.__dict__.update(extra)
    return record


def test_a_traceback_and_an_errors_repr_lose_the_row_values_but_keep_the_constraint():
    taken = "-".join(["ada", "lovelace"])  # not in the source lines the traceback shows
    UserFactory(username=taken)
    try:
        with transaction.atomic():
            UserFactory._meta.model.objects.create(username=taken)
    except IntegrityError as exc:
        error = exc
        exc_info = (type(exc), exc, exc.__traceback__)

    line = formatted(a_record("could not save", exc_info=exc_info, error=repr(error)))

    assert taken in str(error)  # what PostgreSQL said
    assert taken not in json.dumps(line)
    assert 'duplicate key value violates unique constraint "accounts_user_username_key"' in line["exc_info"]
    assert "DETAIL: [Filtered]" in line["exc_info"]
    assert line["error"].startswith("IntegrityError('duplicate key value violates unique constraint")
    assert "DETAIL: [Filtered]" in line["error"]


def test_a_token_in_a_message_is_filtered():
    token = str(RefreshToken.for_user(CustomerFactory()).access_token)

    line = formatted(a_record(f"bad token {token} given"))

    assert line["message"] == "bad token [Filtered] given"


def test_the_statement_postgresql_quotes_with_its_parameters_is_filtered():
    secret = "-".join(["Hauptstraße", "1"])
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT %s::integer", [secret])
    except DataError as exc:
        error = exc

    line = formatted(a_record("could not read", error=repr(error)))

    assert secret in str(error)
    assert secret not in json.dumps(line)
    assert "LINE 1: [Filtered]" in line["error"]

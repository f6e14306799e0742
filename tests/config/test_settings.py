"""The process must refuse to start in production without its secrets and its database."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "PATH": os.environ["PATH"],
    "DJANGO_SECRET_KEY": "a-production-secret-key",
    "MESSAGE_SIGNING_KEY": "a-production-signing-key",
    "DATABASE_URL": "postgres://u:p@db.internal:5432/orders",
}


def run_django(env: dict[str, str], code: str = "print(s.DEBUG)") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", f"from django.conf import settings as s; {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "MESSAGE_SIGNING_KEY", "DATABASE_URL"])
def test_production_refuses_to_start_without_a_secret_or_its_database(missing):
    env = {name: value for name, value in PRODUCTION.items() if name != missing}

    result = run_django(env)

    assert result.returncode == 1
    assert f"ImproperlyConfigured: {missing} must be set when DJANGO_DEBUG is off." in result.stderr


def test_production_starts_with_its_secrets():
    result = run_django(PRODUCTION)

    assert (result.returncode, result.stdout) == (0, "False\n")


def test_debug_mode_starts_without_secrets_on_a_local_sqlite_file():
    code = "print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'])"

    result = run_django({"PATH": os.environ["PATH"], "DJANGO_DEBUG": "1"}, code)

    assert (result.returncode, result.stdout) == (0, f"True django.db.backends.sqlite3 {ROOT / 'db.sqlite3'}\n")


def test_settings_follow_the_environment():
    env = {**PRODUCTION, "DJANGO_ALLOWED_HOSTS": "shop.example.com,api.example.com", "REDIS_URL": "redis://r:6379/2"}
    code = "print(s.ALLOWED_HOSTS, s.CELERY_BROKER_URL, s.DATABASES['default']['HOST'], s.DATABASES['default']['NAME'])"

    result = run_django(env, code)

    assert result.stdout == "['shop.example.com', 'api.example.com'] redis://r:6379/2 db.internal orders\n"


def test_production_settings_pass_the_deploy_check():
    env = {**PRODUCTION, "DJANGO_SECRET_KEY": "k7#Qm2@vX9!pL4$wR8^zN1&bT6*yH3(cJ5)eF0_gD-uA+sK=oI[iP]lM{nB}"}

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    # The one silenced: axes.W006, a false alarm for a lock per account (see config/settings.py).
    assert (result.returncode, result.stdout.strip()) == (0, "System check identified no issues (1 silenced).")


def test_production_is_https_only():
    code = "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"

    result = run_django(PRODUCTION, code)

    assert result.stdout == "True 31536000 True True\n"


def test_behind_a_proxy_the_forwarded_scheme_is_trusted_only_when_asked():
    code = "print(getattr(s, 'SECURE_PROXY_SSL_HEADER', None))"

    default = run_django(PRODUCTION, code)
    proxied = run_django({**PRODUCTION, "DJANGO_SECURE_PROXY_SSL_HEADER": "1"}, code)

    assert (default.stdout, proxied.stdout) == ("None\n", "('HTTP_X_FORWARDED_PROTO', 'https')\n")


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [("", "False - -\n"), ("https://public@sentry.example.invalid/1", "True staging abc123\n")],
)
def test_sentry_is_on_only_with_a_dsn(dsn, expected):
    # What its events may carry: tests/core/test_error_reporting.py.
    env = {**PRODUCTION, "SENTRY_DSN": dsn, "SENTRY_ENVIRONMENT": "staging", "SENTRY_RELEASE": "abc123"}
    code = (
        "import sentry_sdk; c = sentry_sdk.get_client(); "
        "print(c.is_active(), c.options['environment'] if c.is_active() else '-', "
        "c.options['release'] if c.is_active() else '-')"
    )

    result = run_django(env, code)

    assert result.stdout == expected

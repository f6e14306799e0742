"""The settings: which module a process runs, production refusing to start without its secrets
and its database, and settings modules that only read the environment.

Most checks import a settings module afresh in this process, with exactly the environment they
give it; those about a whole process (its entry point, the deploy check, Sentry) start one."""

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from unittest import mock

import pytest
import sentry_sdk
from django.core.exceptions import ImproperlyConfigured

import config.settings
from config.settings import settings_module

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "PATH": os.environ["PATH"],
    "DJANGO_SECRET_KEY": "a-production-secret-key",
    "MESSAGE_SIGNING_KEY": "a-production-signing-key",
    "DATABASE_URL": "postgres://u:p@db.internal:5432/orders",
}


@contextmanager
def fresh_settings(environ: dict[str, str]) -> Iterator[None]:
    """Settings modules imported inside are imported afresh (base.py with them), with exactly
    this environment; afterwards this process has its own modules and environment back."""
    with (
        mock.patch.dict(sys.modules),
        mock.patch.dict(vars(config.settings)),
        mock.patch.dict(os.environ, environ, clear=True),
    ):
        for name in [name for name in sys.modules if name.startswith("config.settings.")]:
            del sys.modules[name]
        yield


def load(module: str, environ: dict[str, str]) -> ModuleType:
    with fresh_settings(environ):
        return importlib.import_module(f"config.settings.{module}")


def run_django(env: dict[str, str], code: str = "print(s.DEBUG)") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", f"from django.conf import settings as s; {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- which settings module ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "config.settings.production"),
        ({"DJANGO_DEBUG": "0"}, "config.settings.production"),
        ({"DJANGO_DEBUG": "off"}, "config.settings.production"),
        ({"DJANGO_DEBUG": ""}, "config.settings.production"),
        ({"DJANGO_DEBUG": "1"}, "config.settings.local"),
        ({"DJANGO_DEBUG": "true"}, "config.settings.local"),
        ({"DJANGO_DEBUG": "on"}, "config.settings.local"),
        ({"DJANGO_SETTINGS_MODULE": "config.settings.test", "DJANGO_DEBUG": "1"}, "config.settings.test"),
        ({"DJANGO_SETTINGS_MODULE": "config.settings.production", "DJANGO_DEBUG": "1"}, "config.settings.production"),
        ({"DJANGO_SETTINGS_MODULE": "config.settings.local"}, "config.settings.local"),
    ],
)
def test_a_process_runs_local_with_debug_on_production_otherwise_unless_a_module_is_named(environ, expected):
    assert settings_module(environ) == expected


SHOW = "from django.conf import settings as s; print(s.SETTINGS_MODULE, s.DEBUG, s.DATABASES['default']['ENGINE'])"


@pytest.mark.parametrize(
    "argv",
    [
        ["manage.py", "shell", "--no-imports", "-c", SHOW],
        ["-c", f"import config.wsgi; {SHOW}"],
        ["-c", f"import config.asgi; {SHOW}"],
        # The Celery app's configuration is the Django settings' CELERY_* names: reading it loads them.
        ["-c", f"from config.celery import app; app.conf.task_default_queue; {SHOW}"],
    ],
    ids=["manage.py", "wsgi", "asgi", "celery"],
)
def test_every_entry_point_starts_a_debug_run_on_the_local_settings_without_secrets(argv, tmp_path):
    env = {"PATH": os.environ["PATH"], "DJANGO_DEBUG": "1", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    result = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert (result.returncode, result.stdout) == (0, "config.settings.local True django.db.backends.sqlite3\n"), (
        result.stderr
    )


# --- production -------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "MESSAGE_SIGNING_KEY", "DATABASE_URL"])
def test_production_refuses_to_start_without_a_secret_or_its_database(missing):
    env = {name: value for name, value in PRODUCTION.items() if name != missing}

    with pytest.raises(ImproperlyConfigured, match=f"^{missing} must be set when DJANGO_DEBUG is off.$"):
        load("production", env)


def test_a_process_with_debug_off_refuses_to_start_without_database_url():
    # No default database in production, not even a SQLite file: a process (here manage.py, which
    # picks production with DJANGO_DEBUG off) stops at once.
    env = {name: value for name, value in PRODUCTION.items() if name != "DATABASE_URL"}

    result = run_django({**env, "DJANGO_DEBUG": "0"})

    assert result.returncode == 1
    assert "ImproperlyConfigured: DATABASE_URL must be set when DJANGO_DEBUG is off." in result.stderr


def test_production_starts_with_its_secrets():
    settings = load("production", PRODUCTION)

    assert settings.DEBUG is False
    assert (settings.SECRET_KEY, settings.SIMPLE_JWT["SIGNING_KEY"], settings.MESSAGE_SIGNING_KEY) == (
        "a-production-secret-key",
        "a-production-secret-key",
        "a-production-signing-key",
    )


def test_settings_follow_the_environment():
    env = {**PRODUCTION, "DJANGO_ALLOWED_HOSTS": "shop.example.com,api.example.com", "REDIS_URL": "redis://r:6379/2"}

    settings = load("production", env)

    assert settings.ALLOWED_HOSTS == ["shop.example.com", "api.example.com"]
    assert settings.CELERY_BROKER_URL == "redis://r:6379/2"
    assert (settings.DATABASES["default"]["HOST"], settings.DATABASES["default"]["NAME"]) == ("db.internal", "orders")


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

    # The one silenced: axes.W006, a false alarm for a lock per account (see config/settings/base.py).
    assert (result.returncode, result.stdout.strip()) == (0, "System check identified no issues (1 silenced).")


def test_production_is_https_only():
    settings = load("production", PRODUCTION)

    assert (
        settings.SECURE_SSL_REDIRECT,
        settings.SECURE_HSTS_SECONDS,
        settings.SESSION_COOKIE_SECURE,
        settings.CSRF_COOKIE_SECURE,
    ) == (True, 31_536_000, True, True)


def test_behind_a_proxy_the_forwarded_scheme_is_trusted_only_when_asked():
    default = load("production", PRODUCTION)
    proxied = load("production", {**PRODUCTION, "DJANGO_SECURE_PROXY_SSL_HEADER": "1"})

    assert not hasattr(default, "SECURE_PROXY_SSL_HEADER")
    assert proxied.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [("", "False - -\n"), ("https://public@sentry.example.invalid/1", "True staging abc123\n")],
)
def test_sentry_is_on_only_with_a_dsn(dsn, expected):
    # In a process of its own: the SDK is the process's. What its events may carry:
    # tests/core/test_error_reporting.py.
    env = {**PRODUCTION, "SENTRY_DSN": dsn, "SENTRY_ENVIRONMENT": "staging", "SENTRY_RELEASE": "abc123"}
    code = (
        "import sentry_sdk; c = sentry_sdk.get_client(); "
        "print(c.is_active(), c.options['environment'] if c.is_active() else '-', "
        "c.options['release'] if c.is_active() else '-')"
    )

    result = run_django(env, code)

    assert result.stdout == expected


# --- a developer's machine ------------------------------------------------------------------


def test_debug_mode_starts_without_secrets_on_a_local_sqlite_file_over_plain_http():
    settings = load("local", {"DJANGO_DEBUG": "1"})

    assert settings.DEBUG is True
    assert (settings.DATABASES["default"]["ENGINE"], settings.DATABASES["default"]["NAME"]) == (
        "django.db.backends.sqlite3",
        str(ROOT / "db.sqlite3"),
    )
    assert settings.SECRET_KEY == settings.SIMPLE_JWT["SIGNING_KEY"] == "insecure-development-django_secret_key"
    assert settings.MESSAGE_SIGNING_KEY == "insecure-development-message_signing_key"
    assert (settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS, settings.SESSION_COOKIE_SECURE) == (
        False,
        0,
        False,
    )


def test_debug_mode_takes_the_database_and_secrets_it_is_given():
    settings = load("local", {**PRODUCTION, "DJANGO_DEBUG": "1"})

    assert (settings.DATABASES["default"]["HOST"], settings.SECRET_KEY) == ("db.internal", "a-production-secret-key")


# --- importing settings ---------------------------------------------------------------------


@pytest.mark.parametrize("module", ["base", "local", "production", "test"])
def test_importing_a_settings_module_makes_no_directory_sets_no_variable_and_starts_nothing(module, tmp_path):
    metrics = tmp_path / "metrics"
    environ = {
        **PRODUCTION,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        "SENTRY_DSN": "https://public@sentry.example.invalid/1",
    }

    with fresh_settings(environ):
        settings = importlib.import_module(f"config.settings.{module}")
        after = dict(os.environ)

    assert (after, settings.PROMETHEUS_MULTIPROC_DIR) == (environ, str(metrics))
    assert not metrics.exists()
    assert not sentry_sdk.get_client().is_active()

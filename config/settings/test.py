"""The tests' settings (pytest's DJANGO_SETTINGS_MODULE in pyproject.toml): production's, with
test-only secrets, plain HTTP (the test client's), a fast password hasher, static files without
a collectstatic run and a metrics directory of the tests' own. The database is DATABASE_URL's
PostgreSQL server (pytest-django makes its test database there).

The live system some tests start (tests/integration/stack.py) runs the production settings, with
these secrets; not this module.
"""

import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL, SIMPLE_JWT, STORAGES, database, env

SECRET_KEY = "test-only-secret-key-not-for-production-0123456789abcdef"
MESSAGE_SIGNING_KEY = "test-only-message-signing-key"
SIMPLE_JWT = {**SIMPLE_JWT, "SIGNING_KEY": SECRET_KEY}

DATABASES = {"default": database(env.str("DATABASE_URL"))}

HTTPS = False
SECURE_SSL_REDIRECT = SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 0

# PBKDF2 is slow on purpose; the tests need hashing to work, not to be costly. (Users who log in
# to the live system get its hashers instead: the stack fixture, tests/conftest.py.)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Pages render without a collectstatic run (the manifest exists only after one).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

# Not a local run's on the same machine; scripts/test.sh gives each run a directory of its own.
PROMETHEUS_MULTIPROC_DIR = env.str(
    "PROMETHEUS_MULTIPROC_DIR", default=str(Path(tempfile.gettempdir()) / "order-processing-test-metrics")
)

# pytest-xdist's workers (`make test-fast` runs two) share the servers but not their state: each
# has its own test database (pytest-django's suffix), Redis database and metrics directory.
_WORKER = env.str("PYTEST_XDIST_WORKER", default="")  # gw0, gw1, ...
if _WORKER:
    # gw0 takes the Redis database after REDIS_URL's, gw1 the one after that, and so on.
    _redis = urlsplit(REDIS_URL)
    _database = int(_redis.path.strip("/") or 0) + 1 + int(_WORKER.removeprefix("gw"))
    REDIS_URL = CELERY_BROKER_URL = _redis._replace(path=f"/{_database}").geturl()
    PROMETHEUS_MULTIPROC_DIR = str(Path(PROMETHEUS_MULTIPROC_DIR) / _WORKER)

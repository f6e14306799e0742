"""A developer's machine: what DJANGO_DEBUG=1 selects (config/settings/__init__.py). Debug on,
fixed development secrets, a SQLite file in the checkout and plain HTTP, unless the environment
says otherwise (every variable it sets still wins).
"""

from config.settings.base import *  # noqa: F403
from config.settings.base import BASE_DIR, SIMPLE_JWT, database, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)


def _development_secret(name: str) -> str:
    # Only a developer's machine runs with these; a fixed key there is harmless.
    return env.str(name, default="") or f"insecure-development-{name.lower()}"


SECRET_KEY = _development_secret("DJANGO_SECRET_KEY")
MESSAGE_SIGNING_KEY = _development_secret("MESSAGE_SIGNING_KEY")
SIMPLE_JWT = {**SIMPLE_JWT, "SIGNING_KEY": SECRET_KEY}

DATABASES = {"default": database(env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}

# Plain HTTP by default (base.py has HTTPS on), and what follows from it.
HTTPS = env.bool("DJANGO_HTTPS", default=False)
SECURE_SSL_REDIRECT = SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000) if HTTPS else 0

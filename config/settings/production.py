"""Production: what every process of a deployment runs, the Procfile's and `make run`'s alike
(DJANGO_DEBUG off, the default: config/settings/__init__.py).

No defaults for the secrets nor the database: without DJANGO_SECRET_KEY, MESSAGE_SIGNING_KEY or
DATABASE_URL the process refuses to start. HTTPS is on unless DJANGO_HTTPS=0 (base.py).
"""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import SIMPLE_JWT, database, env


def _required(name: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when DJANGO_DEBUG is off.")
    return value


SECRET_KEY = _required("DJANGO_SECRET_KEY")
MESSAGE_SIGNING_KEY = _required("MESSAGE_SIGNING_KEY")
SIMPLE_JWT = {**SIMPLE_JWT, "SIGNING_KEY": SECRET_KEY}

# Without it, production would quietly run on a local SQLite file: every process its own
# database, orders lost with the container. `make run` names its SQLite file explicitly.
DATABASES = {"default": database(_required("DATABASE_URL"))}

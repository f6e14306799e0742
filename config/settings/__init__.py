"""Django settings, one module per environment: base.py (what they all share), local.py (a
developer's machine), production.py and test.py (the tests'). Nothing here runs at import.

Operators set only the variables of docs/operations.md, never DJANGO_SETTINGS_MODULE: each
entry point (manage.py, config/wsgi.py, config/asgi.py, config/celery.py) asks settings_module().
"""

from collections.abc import Mapping

from environ import Env

LOCAL = "config.settings.local"
PRODUCTION = "config.settings.production"


def settings_module(environ: Mapping[str, str]) -> str:
    """The settings module of a process with this environment: DJANGO_SETTINGS_MODULE when it is
    set; otherwise local with DJANGO_DEBUG on, production with it off (its default)."""
    explicit = environ.get("DJANGO_SETTINGS_MODULE")
    if explicit:
        return explicit
    # As the settings read DJANGO_DEBUG (django-environ): "1", "true", "on", "yes" ... are on.
    debug = Env.parse_value(environ.get("DJANGO_DEBUG", "False"), bool)
    return LOCAL if debug else PRODUCTION

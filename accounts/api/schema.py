"""How the API documentation (drf-spectacular) describes accounts' authentication."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class CachedUserJWTScheme(SimpleJWTScheme):
    """simplejwt's bearer scheme: the cache changes nothing a client sees."""

    target_class = "accounts.authentication.CachedUserJWTAuthentication"

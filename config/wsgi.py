import os

from django.core.handlers import wsgi
from django.core.wsgi import get_wsgi_application
from django.utils.http import parse_header_parameters

from config.settings import settings_module

os.environ["DJANGO_SETTINGS_MODULE"] = settings_module(os.environ)
# The web's waits on the database are the tighter ones (settings.DATABASE_TIMEOUTS).
os.environ.setdefault("DJANGO_PROCESS_KIND", "web")


def _is_text_encoding(name: str) -> bool:
    try:
        "".encode(name)  # unlike codecs.lookup(), refuses the bytes codecs (zlib, base64, ...)
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        return False
    return True


class WSGIRequest(wsgi.WSGIRequest):
    """Django's request without a Content-Type charset that is no text encoding.

    Django takes any charset codecs.lookup() knows, "zlib" included, and decodes the query
    string with it while it builds the request, before any middleware: a request with
    ``charset=zlib`` and a query string (or a NUL in the charset) raised there, and the
    server answered its own 500. Such a charset is dropped; the rest of the header stays.
    """

    def __init__(self, environ: dict) -> None:
        content_type, params = parse_header_parameters(environ.get("CONTENT_TYPE", ""))
        if "charset" in params and not _is_text_encoding(params["charset"]):
            rest = [f"{name}={value}" for name, value in params.items() if name != "charset"]
            environ = {**environ, "CONTENT_TYPE": "; ".join([content_type, *rest])}
        super().__init__(environ)


application = get_wsgi_application()
application.request_class = WSGIRequest

import base64
import hashlib
import re

from csp.constants import SELF
from csp.decorators import csp_update
from django.contrib import admin
from django.template import Engine
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.api import JsonErrorsMixin
from core.metrics import metrics_view
from core.observability import healthz, readyz

admin.site.site_header = "Order processing - staff"
admin.site.site_title = "Order processing"

admin.site.site_url = "/delivery/"  # admin's "View site" leads staff to the clerks' page


def _inline_style_hashes(template_name: str) -> list[str]:
    """The Content-Security-Policy hashes of a template's inline <style> blocks. They hold no
    template variables, so what the browser hashes is this text; read from the installed template,
    they follow it through upgrades."""
    source = Engine.get_default().get_template(template_name).source
    blocks = re.findall(r"<style>(.*?)</style>", source, re.DOTALL)
    return [f"'sha256-{base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()}'" for css in blocks]


class SchemaApi(JsonErrorsMixin, SpectacularAPIView):
    pass


class DocsPage(JsonErrorsMixin, SpectacularSwaggerSplitView):
    pass


# Swagger UI under the CSP: the split view serves its start-up script as a file (?script), not
# inline, and the page's one inline <style> is allowed by its hash, not by 'unsafe-inline'.
api_docs = csp_update({"style-src": [SELF, *_inline_style_hashes(DocsPage.template_name)]})(
    DocsPage.as_view(url_name="schema")
)

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/schema/", SchemaApi.as_view(), name="schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("delivery/", include("delivery.urls")),
    path("api/delivery/", include("delivery.api.urls")),
    path("api/auth/", include("accounts.api.urls")),
    path("api/", include("sales.api.urls")),
]

# Under /api/ these answer JSON; elsewhere Django's pages. A database outage is a 503 (core.errors).
handler400 = "core.errors.bad_request"
handler403 = "core.errors.permission_denied"
handler404 = "core.errors.page_not_found"
handler500 = "core.errors.server_error"

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.api import JsonErrorsMixin
from config.metrics import metrics_view
from config.observability import healthz, readyz

admin.site.site_header = "Order processing - staff"
admin.site.site_title = "Order processing"

admin.site.site_url = "/delivery/"  # admin's "View site" leads staff to the clerks' page


class SchemaApi(JsonErrorsMixin, SpectacularAPIView):
    pass


class DocsPage(JsonErrorsMixin, SpectacularSwaggerView):
    pass


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/schema/", SchemaApi.as_view(), name="schema"),
    path("api/docs/", DocsPage.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("delivery/", include("delivery.urls")),
    path("api/delivery/", include("delivery.api.urls")),
    path("api/", include("sales.api.urls")),
]

# Under /api/ these answer JSON; elsewhere Django's pages. A database outage is a 503 (config.errors).
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.metrics import metrics_view
from config.observability import healthz, readyz

admin.site.site_header = "Order processing - staff"
admin.site.site_title = "Order processing"

admin.site.site_url = "/delivery/"  # admin's "View site" leads staff to the clerks' page

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("delivery/", include("delivery.urls")),
    path("api/delivery/", include("delivery.api.urls")),
    path("api/", include("sales.api.urls")),
]

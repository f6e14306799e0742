from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Order processing - staff"
admin.site.site_title = "Order processing"

admin.site.site_url = "/delivery/"  # admin's "View site" leads staff to the clerks' page

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("delivery/", include("delivery.urls")),
    path("api/delivery/", include("delivery.api.urls")),
    path("api/", include("sales.api.urls")),
]

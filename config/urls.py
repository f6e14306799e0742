from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Order processing - staff"
admin.site.site_title = "Order processing"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/delivery/", include("delivery.api.urls")),
    path("api/", include("sales.api.urls")),
]

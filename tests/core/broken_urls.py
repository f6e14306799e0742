"""The project's URLs plus views with a bug in them, to see what an unhandled error answers."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request

from config.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


@api_view(["GET"])
@permission_classes([AllowAny])
def broken_api(request: Request) -> HttpResponse:
    return HttpResponse(1 / 0)


def broken_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(1 / 0)


urlpatterns = [
    path("api/broken/", broken_api),
    path("api/broken-plain/", broken_page),
    path("broken/", broken_page),
    *urlpatterns,
]

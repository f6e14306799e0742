"""The delivery clerks' pages: a list of shipments to work through, a shipment's details, and
the two actions. Plain views over the delivery services; everything works without JavaScript."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from delivery import selectors, services
from delivery.forms import ShipForm, ShipmentFilterForm
from delivery.models import Shipment
from delivery.permissions import is_delivery_clerk

PAGE_SIZE = 25
_CANCELLED = "Order {order_id} was cancelled: do not send it."


def clerk_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors go to the log-in page; users who are not clerks (or staff) get 403."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_delivery_clerk(request.user):
            raise PermissionDenied("Only delivery clerks may use these pages.")
        return view(request, *args, **kwargs)

    return wrapper


@require_GET
@clerk_required
def shipment_list(request: HttpRequest) -> HttpResponse:
    filters = ShipmentFilterForm(request.GET)
    filters.is_valid()
    shipments = selectors.shipment_list(
        status=filters.cleaned_data.get("status"), order_id_prefix=filters.cleaned_data.get("q")
    )
    page = Paginator(shipments, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "delivery/shipment_list.html",
        {"filters": filters, "page": page, "query": query.urlencode(), "current_page": request.get_full_path()},
    )


@require_GET
@clerk_required
def shipment_detail(request: HttpRequest, shipment_id: str) -> HttpResponse:
    shipment = get_object_or_404(Shipment, pk=shipment_id)
    return render(
        request, "delivery/shipment_detail.html", {"shipment": shipment, "current_page": request.get_full_path()}
    )


@require_POST
@clerk_required
def shipment_ship(request: HttpRequest, shipment_id: str) -> HttpResponse:
    shipment = get_object_or_404(Shipment, pk=shipment_id)
    form = ShipForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Order {shipment.order_id}: {form.errors['tracking_number'][0]}")
        return _back(request)
    try:
        change = services.shipment_mark_shipped(
            shipment_id=shipment.pk, tracking_number=form.cleaned_data["tracking_number"] or None
        )
    except services.ShipmentCancelled:
        messages.error(request, _CANCELLED.format(order_id=shipment.order_id))
        return _back(request)
    if change.changed:
        messages.success(request, f"Order {shipment.order_id} marked shipped.")
    else:
        messages.info(request, f"Order {shipment.order_id} was already {change.shipment.get_status_display().lower()}.")
    return _back(request)


@require_POST
@clerk_required
def shipment_deliver(request: HttpRequest, shipment_id: str) -> HttpResponse:
    shipment = get_object_or_404(Shipment, pk=shipment_id)
    try:
        change = services.shipment_mark_delivered(shipment_id=shipment.pk)
    except services.ShipmentNotShipped:
        messages.error(request, f"Order {shipment.order_id} has not been shipped yet: mark it shipped first.")
        return _back(request)
    except services.ShipmentCancelled:
        messages.error(request, _CANCELLED.format(order_id=shipment.order_id))
        return _back(request)
    if change.changed:
        messages.success(request, f"Order {shipment.order_id} marked delivered.")
    else:
        messages.info(request, f"Order {shipment.order_id} was already delivered.")
    return _back(request)


def _back(request: HttpRequest) -> HttpResponseRedirect:
    """Back to the page the form was on (only ever a page of this site)."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("delivery:shipment-list")
    return HttpResponseRedirect(target)

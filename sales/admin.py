from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import URLPattern, path, reverse

from accounts.api.auth import authenticated_user
from messaging.admin import DeadLetterAdmin, OutboxMessageAdmin
from sales import selectors, services
from sales.models import (
    Cancellation,
    DeadLetter,
    IdempotencyKey,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    OutboxMessage,
    Product,
)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "price", "stock_quantity", "is_active", "updated_at"]
    list_editable = ["stock_quantity", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["sku", "name"]
    readonly_fields = ["created_at", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Product | None = None) -> list[str]:
        # The sku is what orders refer to: set once, never renamed.
        return [*self.readonly_fields, "sku"] if obj else self.readonly_fields

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "stock_quantity" and field is not None:
            # The form carries the stock the page showed, so that a save changes it by what
            # staff typed, not back to that figure: units sold meanwhile stay sold.
            field.show_hidden_initial = True
        return field

    def save_model(self, request: HttpRequest, obj: Product, form: Any, change: bool) -> None:
        if change:
            changed = [name for name in form.changed_data if name != "stock_quantity"]
            services.product_update(product=obj, **{name: form.cleaned_data[name] for name in changed})
            if "stock_quantity" in form.changed_data:
                self._adjust_stock(request, obj, form)
        else:
            created = services.product_create(**{name: form.cleaned_data[name] for name in form.fields})
            obj.pk, obj.created_at, obj.updated_at = created.pk, created.created_at, created.updated_at

    def _adjust_stock(self, request: HttpRequest, obj: Product, form: Any) -> None:
        field = form.fields["stock_quantity"]
        shown = field.to_python(form.data.get(form.add_initial_prefix("stock_quantity")))
        if shown is None:  # a form without the figure it showed: nothing safe to do
            messages.error(request, f"{obj.sku}: stock not changed; reload the page and try again.")
            return
        if not services.product_adjust_stock(product=obj, by=form.cleaned_data["stock_quantity"] - shown):
            messages.error(request, f"{obj.sku}: stock not changed; fewer units are left than that takes away.")


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [name for name in self.fields or () if isinstance(name, str)]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["sku", "name", "quantity", "unit_price", "line_total"]


class OrderStatusChangeInline(ReadOnlyInline):
    model = OrderStatusChange
    fields = ["from_status", "to_status", "source", "reason", "occurred_at", "recorded_at"]
    verbose_name_plural = "history"


class CancellationInline(ReadOnlyInline):
    """The request to cancel the order, if any, and delivery's decision on it."""

    model = Cancellation
    fields = ["state", "reason", "requested_by", "source", "requested_at", "decided_at"]
    verbose_name_plural = "cancellation"


class CancellationStateFilter(admin.ChoicesFieldListFilter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.title = "cancellation"  # not the bare "state", next to the order's own status


class OrderCancelForm(forms.Form):
    reason = forms.CharField(label="Reason (optional)", max_length=200, required=False)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders change only through the order flow (placement, delivery updates, cancellation):
    staff read, and may ask to cancel (``services.order_cancel_request``), from the list's
    action or the order's page, with the ``sales.cancel_order`` permission."""

    list_display = [
        "id",
        "customer",
        "status",
        "total",
        "shipping_country",
        "created_at",
        "shipped_at",
        "delivered_at",
        "cancelled_at",
    ]
    list_filter = ["status", ("cancellation__state", CancellationStateFilter), "created_at", "shipping_country"]
    search_fields = ["id", "customer__username", "customer__email"]
    date_hierarchy = "created_at"
    list_select_related = ["customer"]
    inlines = [OrderLineInline, CancellationInline, OrderStatusChangeInline]
    actions = ["cancel_orders"]
    change_form_template = "admin/sales/order/change_form.html"
    fieldsets = [
        (None, {"fields": ["id", "customer", "status", "total"]}),
        (
            "Ship to",
            {
                "fields": [
                    "shipping_name",
                    "shipping_line1",
                    "shipping_line2",
                    "shipping_city",
                    "shipping_postal_code",
                    "shipping_country",
                ]
            },
        ),
        ("Times", {"fields": ["created_at", "updated_at", "shipped_at", "delivered_at", "cancelled_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return super().get_queryset(request).select_related("customer", "cancellation")

    def get_urls(self) -> list[URLPattern]:
        # Before the default URLs: their catch-all "<path:object_id>/" would take this one.
        cancel = path(
            "<path:object_id>/cancel/",
            self.admin_site.admin_view(self.cancel_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_cancel",
        )
        return [cancel, *super().get_urls()]

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sales.cancel_order")

    @admin.action(description="Cancel selected orders", permissions=["cancel"])
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        asked, already_asked, already_cancelled, shipped = 0, [], [], []
        for order_id in queryset.values_list("pk", flat=True):
            try:
                request_made = self._cancel_request(request, order_id=order_id)
            except services.OrderAlreadyShipped:
                shipped.append(order_id)
                continue
            if request_made.opened:
                asked += 1
            elif request_made.order.status == OrderStatus.CANCELLED:
                already_cancelled.append(order_id)
            else:
                already_asked.append(order_id)
        if asked:
            self.message_user(
                request, f"{_plural(asked, 'order')} asked to be cancelled; delivery decides.", messages.SUCCESS
            )
        if already_asked:
            self.message_user(
                request, f"Already asked to be cancelled, delivery decides: {', '.join(already_asked)}.", messages.INFO
            )
        if already_cancelled:
            self.message_user(request, f"Already cancelled: {', '.join(already_cancelled)}.", messages.INFO)
        if shipped:
            self.message_user(
                request,
                f"{_plural(len(shipped), 'order')} not cancelled, already shipped or delivered: {', '.join(shipped)}.",
                messages.WARNING,
            )

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The order page's cancel button: POST only, with the ``sales.cancel_order`` permission."""
        if not self.has_cancel_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404
        back = HttpResponseRedirect(
            reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[order.pk])
        )
        form = OrderCancelForm(request.POST)
        if not form.is_valid():
            self.message_user(request, f"Order {order.pk} not cancelled: {form.errors['reason'][0]}", messages.ERROR)
            return back
        try:
            request_made = self._cancel_request(request, order_id=order.pk, reason=form.cleaned_data["reason"])
        except services.OrderAlreadyShipped:
            self.message_user(
                request, f"Order {order.pk} has already shipped; it can no longer be cancelled.", messages.ERROR
            )
            return back
        if request_made.opened:
            self.message_user(request, f"Order {order.pk}: cancellation requested; delivery decides.", messages.SUCCESS)
        elif request_made.order.status == OrderStatus.CANCELLED:
            self.message_user(request, f"Order {order.pk} is already cancelled.", messages.INFO)
        else:
            self.message_user(
                request, f"Order {order.pk}: a cancellation was already requested; delivery decides.", messages.INFO
            )
        return back

    def _cancel_request(self, request: HttpRequest, *, order_id: str, reason: str = "") -> services.CancelRequest:
        """Ask to cancel the order as the staff member making the request, and note it in the
        admin's own history of the order when that asked delivery (not for a repeat)."""
        request_made = services.order_cancel_request(
            order_id=order_id, requested_by=authenticated_user(request), source="admin", reason=reason
        )
        if request_made.opened:
            self.log_change(request, request_made.order, "Cancellation requested")
        return request_made

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Order | None = None,
    ) -> HttpResponse:
        # The button is offered while asking can still do something: a pending order nobody
        # has asked to cancel yet (the service itself refuses or ignores the rest).
        cancellable = obj is not None and selectors.order_cancellable(obj) and self.has_cancel_permission(request)
        context["cancel_form"] = OrderCancelForm() if cancellable else None
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "user", "state", "response_status", "order_id", "created_at"]
    list_filter = ["state", "response_status"]
    search_fields = ["key", "order_id", "user__username"]
    list_select_related = ["user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: IdempotencyKey | None = None) -> bool:
        return False


admin.site.register(OutboxMessage, OutboxMessageAdmin)
admin.site.register(DeadLetter, DeadLetterAdmin)

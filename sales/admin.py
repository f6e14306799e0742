from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from messaging.admin import DeadLetterAdmin, OutboxMessageAdmin
from sales import services
from sales.models import DeadLetter, IdempotencyKey, Order, OrderLine, OrderStatusChange, OutboxMessage, Product


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


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders change only through the order flow (placement, delivery updates): staff read."""

    list_display = ["id", "customer", "status", "total", "shipping_country", "created_at", "shipped_at", "delivered_at"]
    list_filter = ["status", "created_at", "shipping_country"]
    search_fields = ["id", "customer__username", "customer__email"]
    date_hierarchy = "created_at"
    list_select_related = ["customer"]
    inlines = [OrderLineInline, OrderStatusChangeInline]
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
        ("Times", {"fields": ["created_at", "updated_at", "shipped_at", "delivered_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return super().get_queryset(request).select_related("customer")

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

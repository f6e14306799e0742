"""Admin pages for each department's outbox and dead letters (registered by the departments)."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from messaging.consumer import dead_letter_redrive
from messaging.models import AbstractDeadLetter, AbstractOutboxMessage, DeadLetterState, OutboxState
from messaging.outbox import outbox_redrive


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "type", "state", "attempts", "next_attempt_at", "created_at", "acked_at", "last_error"]
    list_filter = ["state", "type", "created_at"]
    search_fields = ["=id", "correlation_id"]
    date_hierarchy = "created_at"
    actions = ["redrive"]

    @admin.action(description="Re-drive the selected abandoned messages (send them again)")
    def redrive(self, request: HttpRequest, queryset: QuerySet[AbstractOutboxMessage]) -> None:
        ids = list(queryset.filter(state=OutboxState.ABANDONED).values_list("pk", flat=True))
        count = outbox_redrive(app_label=queryset.model._meta.app_label, ids=ids)
        self.message_user(request, f"{count} abandoned message(s) will be sent again.", messages.SUCCESS)


class DeadLetterAdmin(ReadOnlyAdmin):
    list_display = ["message_id", "type", "reason", "state", "times_seen", "first_seen_at", "last_seen_at"]
    list_filter = ["state", "reason", "type"]
    search_fields = ["=message_id", "reason"]
    actions = ["redrive"]

    @admin.action(description="Re-drive the selected dead letters (apply them again now)")
    def redrive(self, request: HttpRequest, queryset: QuerySet[AbstractDeadLetter]) -> None:
        results = [dead_letter_redrive(dead_letter=letter) for letter in queryset.filter(state=DeadLetterState.DEAD)]
        applied = sum(results)
        self.message_user(request, f"{applied} applied, {len(results) - applied} still failing.", messages.INFO)

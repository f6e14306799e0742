from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import services
from accounts.models import User


@admin.register(User)
class AccountAdmin(UserAdmin):
    """Django's user admin, plus unlocking an account that wrong passwords locked (accounts/lockout.py)."""

    actions = ["unlock"]

    @admin.action(description="Unlock log-in (forget wrong passwords)", permissions=["change"])
    def unlock(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        users = list(queryset)
        services.accounts_unlock(users=users)
        messages.success(request, f"Unlocked {len(users)} account(s).")

from typing import Any

from rest_framework.permissions import BasePermission

CLERKS_GROUP = "Delivery clerks"


def is_delivery_clerk(user: Any) -> bool:
    """Delivery clerks (members of the group) and staff work on shipments."""
    if not (user and user.is_authenticated):
        return False
    return user.is_staff or user.groups.filter(name=CLERKS_GROUP).exists()


class IsDeliveryClerk(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return is_delivery_clerk(request.user)

from typing import Any

from rest_framework.permissions import BasePermission

from delivery.contracts import CLERKS_GROUP

__all__ = ["CLERKS_GROUP", "CLERK_PERMISSIONS", "IsDeliveryClerk", "is_delivery_clerk"]

# What the clerks' group is granted (delivery/migrations/0002), and what working on shipments takes.
CLERK_PERMISSIONS = ("view_shipment", "change_shipment")


def is_delivery_clerk(user: Any) -> bool:
    """Whoever may change shipments (the clerks' group is granted it) and staff work on shipments."""
    if not (user and user.is_authenticated):
        return False
    return user.is_staff or user.has_perm("delivery.change_shipment")


class IsDeliveryClerk(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return is_delivery_clerk(request.user)

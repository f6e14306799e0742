"""The user model of the whole project (docs/adr/0010-accounts-app-and-custom-user-model.md)."""

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A customer, a delivery clerk or staff: Django's user, ours to extend (AUTH_USER_MODEL).

    What each may do comes from ``is_staff`` and permissions (delivery's clerks are a group
    granted ``delivery.change_shipment``), never from a field of this model."""

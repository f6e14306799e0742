import secrets
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from delivery.contracts import CLERKS_GROUP
from sales.models import Product

CATALOGUE = [
    ("MUG-1", "Enamel mug, white", "12.50", 500),
    ("MUG-2", "Enamel mug, blue", "12.50", 500),
    ("TEE-S", "Organic T-shirt, S", "19.99", 300),
    ("TEE-M", "Organic T-shirt, M", "19.99", 300),
    ("TEE-L", "Organic T-shirt, L", "19.99", 300),
    ("BAG-1", "Canvas tote bag", "9.90", 1000),
    ("BOOK-1", "Field notes notebook", "6.40", 2000),
    ("LAMP-1", "Desk lamp", "49.00", 50),
    ("CHAIR-1", "Oak chair", "189.00", 5),
    ("VASE-OLD", "Ceramic vase (discontinued)", "24.00", 0),
]

# (username, email, is_staff, is_superuser, group)
ACCOUNTS = [
    ("customer", "customer@example.com", False, False, None),
    ("clerk", "clerk@example.com", False, False, CLERKS_GROUP),
    ("staff", "staff@example.com", True, True, None),
]
# What earlier versions gave these accounts, published in the README: an account that still has
# one gets a random password like a new account, or anyone who can reach it could log in.
PUBLISHED_PASSWORDS = {"customer": "demo-customer-2026", "clerk": "demo-clerk-2026", "staff": "demo-staff-2026"}


class Command(BaseCommand):
    help = (
        "Create a demo catalogue and demo log-ins with random passwords, printed only when made. "
        "Running it again changes nothing."
    )

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        made = 0
        for sku, name, price, stock in CATALOGUE:
            _, created = Product.objects.get_or_create(
                sku=sku,
                defaults={"name": name, "price": Decimal(price), "stock_quantity": stock, "is_active": stock > 0},
            )
            made += created
        self.stdout.write(f"Catalogue: {made} products created, {len(CATALOGUE) - made} already there.")

        User = get_user_model()
        self.stdout.write("Log-ins (username / password; a password is shown only when it is made):")
        for username, email, is_staff, is_superuser, group in ACCOUNTS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"email": email, "is_staff": is_staff, "is_superuser": is_superuser}
            )
            if created and group:
                user.groups.add(Group.objects.get_or_create(name=group)[0])
            if created or user.check_password(PUBLISHED_PASSWORDS[username]):
                password = secrets.token_urlsafe(12)
                user.set_password(password)
                user.save(update_fields=["password"])
            else:
                password = f"(printed when it was made; `manage.py changepassword {username}` sets a new one)"
            role = group or ("staff" if is_staff else "customer")
            self.stdout.write(f"  {role:16} {username} / {password}")

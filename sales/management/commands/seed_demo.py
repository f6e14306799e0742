from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

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

# (username, password, email, is_staff, is_superuser, group)
ACCOUNTS = [
    ("customer", "demo-customer-2026", "customer@example.com", False, False, None),
    ("clerk", "demo-clerk-2026", "clerk@example.com", False, False, "Delivery clerks"),
    ("staff", "demo-staff-2026", "staff@example.com", True, True, None),
]


class Command(BaseCommand):
    help = "Create a demo catalogue and demo log-ins. Running it again changes nothing."

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
        self.stdout.write("Log-ins (username / password):")
        for username, password, email, is_staff, is_superuser, group in ACCOUNTS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"email": email, "is_staff": is_staff, "is_superuser": is_superuser}
            )
            if created:
                user.set_password(password)
                user.save(update_fields=["password"])
                if group:
                    user.groups.add(Group.objects.get_or_create(name=group)[0])
            role = group or ("staff" if is_staff else "customer")
            note = "" if created else " (already there; password left as it was)"
            self.stdout.write(f"  {role:16} {username} / {password}{note}")

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from sales.models import Product

pytestmark = pytest.mark.django_db

User = get_user_model()


def snapshot():
    users = list(User.objects.order_by("username").values("username", "password", "is_staff", "is_superuser"))
    products = list(Product.objects.order_by("sku").values())
    groups = list(User.objects.filter(groups__name="Delivery clerks").values_list("username", flat=True))
    return users, products, groups


def test_demo_data_creates_the_catalogue_and_the_log_ins(capsys):
    call_command("seed_demo")

    out = capsys.readouterr().out
    users, products, clerks = snapshot()
    assert [(u["username"], u["is_staff"], u["is_superuser"]) for u in users] == [
        ("clerk", False, False),
        ("customer", False, False),
        ("staff", True, True),
    ]
    assert len(products) == 10
    assert clerks == ["clerk"]
    assert "customer / demo-customer-2026" in out
    assert User.objects.get(username="staff").check_password("demo-staff-2026")


def test_demo_data_twice_changes_nothing(capsys):
    call_command("seed_demo")
    before = snapshot()

    call_command("seed_demo")

    assert snapshot() == before
    assert "Catalogue: 0 products created, 10 already there." in capsys.readouterr().out

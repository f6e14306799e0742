import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from delivery.contracts import CLERKS_GROUP
from sales.models import Product
from tests.factories import CustomerFactory, StaffFactory

pytestmark = pytest.mark.django_db

User = get_user_model()

# The passwords an earlier version gave the demo accounts (and published in the README).
PUBLISHED = {"customer": "demo-customer-2026", "clerk": "demo-clerk-2026", "staff": "demo-staff-2026"}


def snapshot():
    users = list(User.objects.order_by("username").values("username", "password", "is_staff", "is_superuser"))
    products = list(Product.objects.order_by("sku").values())
    groups = list(User.objects.filter(groups__name=CLERKS_GROUP).values_list("username", flat=True))
    return users, products, groups


def printed_passwords(out: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+) / (\S+)$", out, re.MULTILINE))


def log_ins(out: str) -> str:
    return out.split("Log-ins", 1)[1]


def test_demo_data_creates_the_catalogue_and_log_ins_with_random_passwords_printed_once(capsys):
    call_command("seed_demo")

    out = capsys.readouterr().out
    users, products, clerks = snapshot()
    passwords = printed_passwords(out)
    assert [(u["username"], u["is_staff"], u["is_superuser"]) for u in users] == [
        ("clerk", False, False),
        ("customer", False, False),
        ("staff", True, True),
    ]
    assert len(products) == 10
    assert clerks == ["clerk"]
    assert log_ins(out) == (
        " (username / password; a password is shown only when it is made):\n"
        f"  customer         customer / {passwords['customer']}\n"
        f"  Delivery clerks  clerk / {passwords['clerk']}\n"
        f"  staff            staff / {passwords['staff']}\n"
    )
    assert {name: User.objects.get(username=name).check_password(passwords[name]) for name in PUBLISHED} == {
        "customer": True,
        "clerk": True,
        "staff": True,
    }
    assert {len(password) for password in passwords.values()} == {16}  # 12 random bytes, URL-safe
    assert len(set(passwords.values()) | set(PUBLISHED.values())) == 6  # none shared, none published


def test_every_database_gets_its_own_passwords(capsys):
    call_command("seed_demo")
    first = printed_passwords(capsys.readouterr().out)
    User.objects.all().delete()

    call_command("seed_demo")

    second = printed_passwords(capsys.readouterr().out)
    assert {name: first[name] == second[name] for name in PUBLISHED} == {
        "customer": False,
        "clerk": False,
        "staff": False,
    }


def test_demo_data_twice_changes_nothing_and_shows_no_password(capsys):
    call_command("seed_demo")
    before = snapshot()
    capsys.readouterr()

    call_command("seed_demo")

    out = capsys.readouterr().out
    assert snapshot() == before
    assert out == (
        "Catalogue: 0 products created, 10 already there.\n"
        "Log-ins (username / password; a password is shown only when it is made):\n"
        "  customer         customer / (printed when it was made; `manage.py changepassword customer` sets a new one)\n"
        "  Delivery clerks  clerk / (printed when it was made; `manage.py changepassword clerk` sets a new one)\n"
        "  staff            staff / (printed when it was made; `manage.py changepassword staff` sets a new one)\n"
    )


def test_an_account_left_with_its_published_password_gets_a_random_one(capsys):
    # Given a database seeded by an earlier version: the staff account has its published password
    StaffFactory(username="staff", password=PUBLISHED["staff"])
    CustomerFactory(username="customer", password="the-customer-chose-this-one")

    call_command("seed_demo")

    passwords = printed_passwords(capsys.readouterr().out)
    staff = User.objects.get(username="staff")
    assert (staff.check_password(PUBLISHED["staff"]), staff.check_password(passwords["staff"])) == (False, True)
    assert User.objects.get(username="customer").check_password("the-customer-chose-this-one")
    assert sorted(passwords) == ["clerk", "staff"]

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Literals, not imports: a migration is history and must not change when the code does.
# (delivery.contracts.CLERKS_GROUP and delivery.permissions.CLERK_PERMISSIONS name them today.)
CLERKS_GROUP = "Delivery clerks"
PERMISSIONS = ["view_shipment", "change_shipment"]


def create_group(apps, schema_editor):
    # Permissions are normally made after all migrations; make delivery's now to grant them.
    app_config = apps.get_app_config("delivery")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=CLERKS_GROUP)
    group.permissions.add(*Permission.objects.filter(content_type__app_label="delivery", codename__in=PERMISSIONS))


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=CLERKS_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]

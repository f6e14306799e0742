from django.db import migrations, models

# The outbox's "dead" state is called "abandoned": "dead" is the consumers' dead letters only.


def dead_to_abandoned(apps, schema_editor):
    apps.get_model("delivery", "OutboxMessage").objects.filter(state="dead").update(state="abandoned")


def abandoned_to_dead(apps, schema_editor):
    apps.get_model("delivery", "OutboxMessage").objects.filter(state="abandoned").update(state="dead")


class Migration(migrations.Migration):
    dependencies = [("delivery", "0002_delivery_clerks_group")]

    operations = [
        migrations.AlterField(
            model_name="outboxmessage",
            name="state",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("awaiting_ack", "Sent, awaiting acknowledgement"),
                    ("done", "Done"),
                    ("abandoned", "Abandoned"),
                ],
                default="pending",
                max_length=20,
            ),
        ),
        migrations.RunPython(dead_to_abandoned, abandoned_to_dead, elidable=True),
    ]

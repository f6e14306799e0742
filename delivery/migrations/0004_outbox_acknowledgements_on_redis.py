from django.db import migrations

# Acknowledgements are no longer outbox rows (they travel on a Redis list, messaging.acks), so
# every outbox message awaits one and the flag goes. The acknowledgement rows go first: the relay
# would find no route for one left pending.


def delete_acknowledgements(apps, schema_editor):
    apps.get_model("delivery", "OutboxMessage").objects.filter(needs_ack=False).delete()


class Migration(migrations.Migration):
    dependencies = [("delivery", "0003_outbox_state_abandoned")]

    operations = [
        migrations.RunPython(delete_acknowledgements, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(model_name="outboxmessage", name="needs_ack"),
    ]

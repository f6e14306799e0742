from django.db import migrations

# Acknowledgements are no longer outbox rows (messaging.acks): every outbox message awaits one.


class Migration(migrations.Migration):
    dependencies = [("sales", "0002_outbox_state_abandoned")]

    operations = [migrations.RemoveField(model_name="outboxmessage", name="needs_ack")]

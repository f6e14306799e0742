from django.db import migrations

# Acknowledgements are no longer outbox rows (messaging.acks): every outbox message awaits one.


class Migration(migrations.Migration):
    dependencies = [("delivery", "0003_outbox_state_abandoned")]

    operations = [migrations.RemoveField(model_name="outboxmessage", name="needs_ack")]

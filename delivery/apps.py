from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Delivery"

    def ready(self) -> None:
        from delivery.models import DeadLetter, InboxMessage, OutboxMessage
        from messaging.registry import Department, register

        register(Department(label="delivery", outbox=OutboxMessage, inbox=InboxMessage, dead_letters=DeadLetter))

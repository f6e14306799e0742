from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "sales"
    verbose_name = "Sales"

    def ready(self) -> None:
        from messaging.registry import Department, register
        from sales.models import DeadLetter, InboxMessage, OutboxMessage

        register(Department(label="sales", outbox=OutboxMessage, inbox=InboxMessage, dead_letters=DeadLetter))

from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """The transport shared by the departments. It has no tables of its own (each department
    keeps its outbox, inbox and dead letters); it is an app for its tasks and relay command."""

    name = "messaging"
    label = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from core.metrics import register_collector
        from messaging.metrics import OutboxCollector

        register_collector(OutboxCollector())

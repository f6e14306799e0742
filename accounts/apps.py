from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # drf-spectacular finds a scheme extension once its module is imported.
        from accounts.api import schema  # noqa: F401

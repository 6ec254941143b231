from django.apps import AppConfig


class GrantsConfig(AppConfig):
    name = "grants"
    verbose_name = "Cross-account grants"

    def ready(self) -> None:
        from . import checks, signals  # noqa: F401  (registers checks, connects receivers)

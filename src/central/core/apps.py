from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "central.core"
    label = "core"
    verbose_name = _("Núcleo")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (audit of logins)

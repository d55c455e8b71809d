from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TelephonyConfig(AppConfig):
    name = "central.telephony"
    label = "telephony"
    verbose_name = _("Telefonia")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (live calls of a server that went away)

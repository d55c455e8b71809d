from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "central.messaging"
    label = "messaging"
    verbose_name = _("WhatsApp")

    def ready(self) -> None:
        # The inbox's live updates listen to the backend's signals (messaging/live.py).
        from . import live  # noqa: F401

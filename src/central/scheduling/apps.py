from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchedulingConfig(AppConfig):
    name = "central.scheduling"
    label = "scheduling"
    verbose_name = _("Agenda")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the receivers)

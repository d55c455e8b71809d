from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AgentsConfig(AppConfig):
    name = "central.agents"
    label = "agents"
    verbose_name = _("Agentes")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (seeds the pause codes of new organizations)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DocumentsConfig(AppConfig):
    name = "central.documents"
    label = "documents"
    verbose_name = _("Documentos (agentes locais)")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import metrics  # noqa: F401 - registers the documents gauges (web processes)

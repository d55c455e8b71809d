from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "central.assistant"
    label = "assistant"
    verbose_name = "Assistente de agendamento (WhatsApp)"

    def ready(self) -> None:
        from . import responder

        responder.install()

"""Settings for bench/whatsapp_webhook.py's server (not part of the product).

``central web`` / ``central worker`` run with ``DJANGO_SETTINGS_MODULE=whatsapp_webhook_django``
(bench/ on PYTHONPATH): Central's settings, the URLs of ``whatsapp_webhook_urls`` (Central's
plus the naive view) and a responder that decides a reply for every inbound message
(``bot=True``), registered in every process, so "processed" means the same work on the
fast path (background job) and on the naive view.
"""

from central.settings import *  # noqa: F403

ROOT_URLCONF = "whatsapp_webhook_urls"


class _BenchResponder:
    name = "bench-auto-reply"

    def applies_to(self, conversation) -> bool:
        return True

    def handle(self, conversation, message) -> None:
        from central.messaging import services

        services.send_text(conversation, "Recebemos sua mensagem; já respondemos.", bot=True)


def _register() -> None:
    from central.messaging import responders

    responders.register(_BenchResponder())


_register()

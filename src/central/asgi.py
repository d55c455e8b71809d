"""ASGI entry: HTTP through Django, WebSockets through Channels with session auth."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

from central.core.bodylimit import BodyLimitASGI  # noqa: E402

# Oversized bodies are refused while they stream in, before Django spools them to $TMPDIR.
django_application = BodyLimitASGI(get_asgi_application())

from central.dashboard.routing import websocket_urlpatterns  # noqa: E402
from central.documents.routing import agent_websocket  # noqa: E402
from central.documents.upload_asgi import AgentUploadASGI  # noqa: E402
from central.messaging.webhook_asgi import WhatsAppWebhookASGI  # noqa: E402

# Browser sockets (session cookie) pass the origin check; the site agent's socket carries
# no cookie and authenticates with its own token (central/documents/consumers.py), so it
# is routed before the session stack and the origin validator.
application = ProtocolTypeRouter(
    {
        # The site agent's streamed upload is read as it arrives, not spooled by Django;
        # WhatsApp deliveries are answered without Django's middleware stack.
        "http": WhatsAppWebhookASGI(AgentUploadASGI(django_application)),
        "websocket": agent_websocket(
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
    }
)

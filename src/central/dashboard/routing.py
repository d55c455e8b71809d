from django.urls import path

from .consumers import LiveConsumer
from .logconsole import LogConsumer

websocket_urlpatterns = [path("ws/live/", LiveConsumer.as_asgi()), path("ws/logs/", LogConsumer.as_asgi())]

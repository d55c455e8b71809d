from django.urls import path

from central.agents.desk_consumer import DeskConsumer

from .consumers import LiveConsumer
from .logconsole import LogConsumer

websocket_urlpatterns = [path("ws/live/", LiveConsumer.as_asgi()), path("ws/logs/", LogConsumer.as_asgi()),
                         path("ws/desk/", DeskConsumer.as_asgi())]

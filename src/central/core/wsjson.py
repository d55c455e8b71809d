"""The JSON WebSocket consumer every page socket builds on.

Channels' ``AsyncJsonWebsocketConsumer`` parses frames with ``json.loads``: a frame nested
50,000 deep raised RecursionError inside the consumer. Here every frame goes through the one
JSON guard (``central.core.jsonguard``), and a rejected frame gets a clear answer before the
socket closes with 1007 ("data inconsistent with the message type").
"""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from central.core.jsonguard import JSONRejected, loads


class GuardedJsonConsumer(AsyncJsonWebsocketConsumer):
    @classmethod
    async def decode_json(cls, text_data):
        return loads(text_data)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except JSONRejected as exc:
            await self.send_json({"type": "error", "error": "invalid_json", "detail": str(exc)})
            await self.close(code=1007)

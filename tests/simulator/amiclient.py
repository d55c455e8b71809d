"""A minimal raw-TCP AMI test client built on the sans-I/O codec (no mocks)."""

from __future__ import annotations

import asyncio
import contextlib

from central.telephony.ami.protocol import AMIParser, Message, encode_action


class RawAMI:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = AMIParser()
        self.inbox: list[Message] = []
        self.eof = False

    @classmethod
    async def connect(cls, host: str, port: int) -> RawAMI:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    def send(self, name: str, fields: dict | list | None = None, action_id: str | None = None) -> None:
        self.writer.write(encode_action(name, fields, action_id))

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def pump(self, timeout: float = 0.05) -> int:
        """Read what is available within ``timeout``; return how many messages arrived."""
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
        except TimeoutError:
            return 0
        except ConnectionError:
            self.eof = True
            return 0
        if not data:
            self.eof = True
            return 0
        msgs = self.parser.receive_data(data)
        self.inbox.extend(msgs)
        return len(msgs)

    async def wait_for(self, pred, timeout: float = 5.0) -> Message:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, m in enumerate(self.inbox):
                if pred(m):
                    return self.inbox.pop(i)
            if self.eof or loop.time() > deadline:
                raise AssertionError(f"message not received; inbox={[m.pairs[:2] for m in self.inbox]}")
            await self.pump(0.05)

    async def response(self, action_id: str, timeout: float = 5.0) -> Message:
        return await self.wait_for(
            lambda m: m.kind == "response" and m.get("ActionID") == action_id, timeout
        )

    async def login(self, user: str = "central", secret: str = "central-demo", events: str = "on") -> Message:
        self.send("Login", {"Username": user, "Secret": secret, "Events": events}, "login")
        return await self.response("login")

    async def read_to_eof(self, timeout: float = 5.0) -> list[Message]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.eof and loop.time() < deadline:
            await self.pump(0.1)
        out, self.inbox = self.inbox, []
        return out

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()

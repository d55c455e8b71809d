"""WebSocket route of the site agents (the protocol's ``WS_PATH``)."""

from __future__ import annotations

from central_agent.protocol import WS_PATH

from .consumers import AgentConsumer

_agent_app = AgentConsumer.as_asgi()


def agent_websocket(browser_app):
    """ASGI app: ``WS_PATH`` goes to the agent consumer (token auth, no session, no origin
    check: the agent sends no cookie), every other path to ``browser_app``."""

    async def app(scope, receive, send):
        if scope.get("path") == WS_PATH:
            return await _agent_app(scope, receive, send)
        return await browser_app(scope, receive, send)

    return app

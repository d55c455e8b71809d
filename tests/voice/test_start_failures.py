"""A voice process whose start fails half way closes everything it opened.

Seen with the two test passes side by side: each pass's `central up` starts the voice
component, whose management API listens on 8090 by default. In the second one that bind
failed after the AudioSocket listeners were up; `run_voice` raised without closing them,
the supervisor restarted the component, and every restart took two more ports of the
8080-8099 range for good until no compatibility pair could listen anywhere.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from central.voice.config import COMPAT_PORT, COMPAT_RETURN_PORT, compat_config
from central.voice.runner import run_voice
from tests.support import free_port
from tests.voice.helpers import FakeResidentPhone, config, extension

pytestmark = pytest.mark.backend_free


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_a_taken_management_port_is_a_clear_error_and_frees_the_listeners(tmp_path):
    """Before: run_voice raised the bare EADDRINUSE of the API port and the AI extension's
    two ports stayed bound (leaked listeners) after it returned."""
    ai_port, return_port = free_port(), free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        api_port = taken.getsockname()[1]

        async def scenario() -> None:
            await run_voice(
                api_port=api_port, snapshot_path=str(tmp_path / "snap.json"), token="t",
                originator=FakeResidentPhone(), use_database=False,
                loader=lambda: config(extension(port=ai_port, return_port=return_port)),
            )

        with pytest.raises(OSError, match=f"management API cannot listen on 127.0.0.1:{api_port}"):
            asyncio.run(scenario())
    assert _bindable(ai_port) and _bindable(return_port), "a failed start left its listeners bound"


def test_the_compatibility_pair_defaults_to_8080_and_8081():
    (ext,) = compat_config().extensions
    assert (ext.port, ext.return_port) == (COMPAT_PORT, COMPAT_RETURN_PORT) == (8080, 8081)

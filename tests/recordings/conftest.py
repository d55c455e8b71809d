"""Each test gets its own spool and store under its tmp_path."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def recordings_dirs(settings, tmp_path):
    settings.RECORDINGS_SPOOL = tmp_path / "spool"
    settings.RECORDINGS_DIR = tmp_path / "store"
    settings.RECORDINGS_SETTLE_SECONDS = 0
    (tmp_path / "spool").mkdir()
    return tmp_path


@pytest.fixture
async def give_back_connections():
    """The dialer rig's checks reopen a connection in the test's thread: return it
    (as tests/dialer/conftest.py does for the engine modules)."""
    from tests.dialer.engine_support import close_test_connections

    yield
    await close_test_connections()

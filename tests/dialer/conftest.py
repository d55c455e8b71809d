"""Fixtures of the engine test modules (test_engine, test_reconcile, ...)."""

from __future__ import annotations

import pytest

from tests.dialer.engine_support import close_test_connections


@pytest.fixture
async def give_back_connections():
    """Checks after the rig closed reopen a connection in the test's thread: return it.

    Engine modules use it with ``pytest.mark.usefixtures("give_back_connections")``.
    """
    yield
    await close_test_connections()


@pytest.fixture
def org(db):
    from central.core.models import Organization

    return Organization.objects.create(name="Discadora", slug="discadora")

from __future__ import annotations

import pytest

from tests.voice.helpers import FakeResidentPhone


@pytest.fixture
def phone() -> FakeResidentPhone:
    return FakeResidentPhone()

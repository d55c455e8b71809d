"""The assistant reads and writes the agenda and the channel through their service
functions only: it imports no other app's models (the agenda's own rule, same check)."""

from __future__ import annotations

from pathlib import Path

import pytest

import central.assistant
from tests.scheduling import test_boundaries as rule

pytestmark = pytest.mark.backend_free


def test_assistant_imports_no_other_apps_models(monkeypatch):
    monkeypatch.setattr(rule, "ALLOWED", {"central.assistant", "central.core"})
    package = Path(central.assistant.__file__).parent
    offenders = [hit for path in sorted(package.rglob("*.py")) if "migrations" not in path.parts
                 for hit in rule._imported_models(path)]
    assert offenders == []

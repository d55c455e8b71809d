"""One app never reads or writes another's tables: the agenda reaches messaging (and any
other app) through that app's service functions, never its models."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import central.scheduling

pytestmark = pytest.mark.backend_free

#: Apps whose models the agenda may import: itself and the platform core (organizations).
ALLOWED = {"central.scheduling", "central.core"}


def _imported_models(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "central" and "models" in parts[2:3] and ".".join(parts[:2]) not in ALLOWED:
                found.append(f"{path.name}:{node.lineno} {name}")
    return found


def test_scheduling_imports_no_other_apps_models():
    package = Path(central.scheduling.__file__).parent
    offenders = [hit for path in sorted(package.rglob("*.py")) if "migrations" not in path.parts
                 for hit in _imported_models(path)]
    assert offenders == []

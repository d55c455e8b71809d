"""`manage.py check --deploy` with production settings: no warning that docs/security.md
does not accept by id (before: security.W004 HSTS and security.W008 SSL redirect)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from pathlib import Path

from tests.support import CENTRAL

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def accepted_ids() -> set[str]:
    """The ids listed under "Accepted `check --deploy` warnings" in docs/security.md."""
    text = DOC.read_text()
    section = text.split("Accepted `check --deploy` warnings", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"`([a-z_]+\.[WE]\d{3})`", section))


def test_check_deploy_with_production_settings_has_only_accepted_warnings(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CENTRAL_", "SECRET_KEY", "DEBUG"))}
    env.update({
        "CENTRAL_ENV": "production", "CENTRAL_DATA_DIR": str(tmp_path),
        "SECRET_KEY": secrets.token_urlsafe(50), "REDIS_URL": "redis://127.0.0.1:1/0",
        "ALLOWED_HOSTS": "central.example.com", "CSRF_TRUSTED_ORIGINS": "https://central.example.com",
    })
    result = subprocess.run([CENTRAL, "manage", "check", "--deploy"], env=env,
                            capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    found = set(re.findall(r"\(([a-z_]+\.[WE]\d{3})\)", output))
    assert found <= accepted_ids(), f"not accepted in docs/security.md: {sorted(found - accepted_ids())}\n{output}"

"""Production refuses to start with a demo secret key or DEBUG on."""

from __future__ import annotations

import os
import subprocess
import sys


def load_settings(tmp_path, **env):
    full = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "CENTRAL_ENV"}}
    full.update({"CENTRAL_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "central.settings", **env})
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        env=full, capture_output=True, text=True, timeout=60,
    )


def test_production_without_secret_key_refuses(tmp_path):
    result = load_settings(tmp_path, CENTRAL_ENV="production", REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_with_demo_key_refuses(tmp_path):
    result = load_settings(
        tmp_path, CENTRAL_ENV="production", SECRET_KEY="demo-" + "x" * 40, REDIS_URL="redis://127.0.0.1:1/0"
    )
    assert result.returncode != 0
    assert "demo key" in result.stderr


def test_production_with_debug_refuses(tmp_path):
    result = load_settings(
        tmp_path, CENTRAL_ENV="production", SECRET_KEY="k" * 50, DEBUG="1", REDIS_URL="redis://127.0.0.1:1/0"
    )
    assert result.returncode != 0
    assert "DEBUG" in result.stderr


def test_production_with_proper_settings_starts(tmp_path):
    result = load_settings(tmp_path, CENTRAL_ENV="production", SECRET_KEY="k" * 50, REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_embedded_generates_and_keeps_a_secret_key(tmp_path):
    assert load_settings(tmp_path).returncode == 0
    first = (tmp_path / "secret_key").read_text()
    assert first.startswith("demo-") and len(first) > 40
    assert load_settings(tmp_path).returncode == 0
    assert (tmp_path / "secret_key").read_text() == first

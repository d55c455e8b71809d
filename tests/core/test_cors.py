"""CORS for API clients on other origins: none by default, origins and credentials from
the environment (CENTRAL_CORS_ORIGINS, CENTRAL_CORS_CREDENTIALS), the API only."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.core.test_production_settings import load_settings

APP = "https://app.cliente.example"


def preflight(client: Client, path: str = "/api/v1/me/", origin: str = APP):
    return client.options(path, HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
                          HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,x-organization")


@pytest.mark.django_db
def test_no_origin_is_allowed_by_default():
    client = Client()
    assert "access-control-allow-origin" not in preflight(client).headers
    answer = client.get("/api/v1/me/", HTTP_ORIGIN=APP)
    assert "access-control-allow-origin" not in answer.headers


@pytest.mark.django_db
def test_a_configured_origin_may_call_the_api_without_credentials(settings, tenants, api_as):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    answer = preflight(Client())
    assert answer.headers["access-control-allow-origin"] == APP
    assert "authorization" in answer.headers["access-control-allow-headers"]
    assert "x-organization" in answer.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in answer.headers
    real = api_as(tenants["alice"]).get("/api/v1/me/", HTTP_ORIGIN=APP)
    assert real.status_code == 200
    assert real.headers["access-control-allow-origin"] == APP
    assert "x-request-id" in real.headers["access-control-expose-headers"].lower()
    other = preflight(Client(), origin="https://evil.example")
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.django_db
def test_credentials_only_when_configured(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    settings.CORS_ALLOW_CREDENTIALS = True
    assert preflight(Client()).headers["access-control-allow-credentials"] == "true"


@pytest.mark.django_db
def test_pages_admin_and_metrics_never_answer_cross_origin(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    client = Client()
    for path in ("/login/", "/admin/login/", "/metrics", "/ready"):
        assert "access-control-allow-origin" not in client.get(path, HTTP_ORIGIN=APP).headers, path


def test_origins_and_credentials_come_from_the_environment(tmp_path):
    import json
    import subprocess
    import sys

    code = ("import django, json; django.setup(); from django.conf import settings as s; "
            "print(json.dumps([s.CORS_ALLOWED_ORIGINS, s.CORS_ALLOW_CREDENTIALS]))")
    env = {"CENTRAL_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "central.settings",
           "CENTRAL_CORS_ORIGINS": f" {APP}/, https://m.example ", "CENTRAL_CORS_CREDENTIALS": "1",
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [[APP, "https://m.example"], True]


def test_credentials_without_explicit_origins_are_refused(tmp_path):
    result = load_settings(tmp_path, CENTRAL_CORS_CREDENTIALS="1")
    assert result.returncode != 0
    assert "CENTRAL_CORS_ORIGINS" in result.stderr

"""The OpenAPI schema builds and documents the API; Swagger UI is served."""

from __future__ import annotations

import functools

import pytest
import yaml

pytestmark = pytest.mark.django_db


def test_schema_lists_the_api(tenants, api_as):
    response = api_as(tenants["alice"]).get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in ("/api/v1/auth/token/", "/api/v1/members/", "/api/v1/audit-log/", "/api/v1/organizations/"):
        assert path in paths, path


def test_swagger_ui(tenants, client):
    client.force_login(tenants["alice"])
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_schema_generation_has_no_errors_or_warnings(tmp_path):
    """Every endpoint documents its request and response (drf-spectacular validates)."""
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").stat().st_size > 1000


def test_swagger_ui_uses_only_local_static_files(tenants, client):
    """Offline and pinned: Swagger UI comes from drf-spectacular-sidecar's static files."""
    import re

    from django.contrib.staticfiles import finders

    client.force_login(tenants["alice"])
    html = client.get("/api/docs/").content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(u.endswith("swagger-ui-bundle.js") for u in urls)
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), url  # really shipped
    script = client.get("/api/docs/?script=").content.decode()
    assert "http://" not in script and "https://" not in script and "@latest" not in script


@functools.cache
def _built() -> dict:
    """The schema as /api/schema/ serves it, generated once for the module's tests (one
    generation takes seconds)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiYamlRenderer

    return yaml.safe_load(OpenApiYamlRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


def _schema(client, tenants):
    return _built()


def test_schema_tags_each_capability(tenants, client):
    ops = {(p, m): o for p, item in _schema(client, tenants)["paths"].items() for m, o in item.items()}
    tags = {t for o in ops.values() for t in o["tags"]}
    assert {"account", "organization", "dialer", "telephony", "voice", "messaging", "scheduling",
            "documents"} <= tags
    assert "v1" not in tags  # was the only tag
    assert ops[("/api/v1/dialer/campaigns/", "get")]["tags"] == ["dialer"]
    assert ops[("/api/v1/auth/token/", "post")]["tags"] == ["account"]


def test_schema_declares_the_organization_header_and_errors(tenants, client):
    schema = _schema(client, tenants)
    paths = schema["paths"]
    listing = paths["/api/v1/dialer/campaigns/"]["get"]
    assert any(p["in"] == "header" and p["name"] == "X-Organization" for p in listing["parameters"])
    token = paths["/api/v1/auth/token/"]["post"]
    assert not any(p.get("name") == "X-Organization" for p in token.get("parameters", []))
    create = paths["/api/v1/dialer/campaigns/"]["post"]["responses"]
    for code in ("400", "401", "403", "404", "429"):
        assert create[code]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, code
    error = schema["components"]["schemas"]["ErrorBody"]["properties"]
    assert set(error) == {"code", "message", "fields"}


def test_schema_types_campaign_json_fields(tenants, client):
    props = _schema(client, tenants)["components"]["schemas"]["CampaignRequest"]["properties"]
    hours = props["working_hours"]
    assert hours["type"] == "object" and set(hours["properties"]) == {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
    retry = props["retry_policy"]
    assert retry["properties"]["busy"]["type"] == "integer" and retry["additionalProperties"] is False


def test_schema_has_no_internal_docstrings_or_method_mixups(tenants, client):
    paths = _schema(client, tenants)["paths"]
    text = yaml.safe_dump(paths)
    for leak in ("get_queryset", "Base for every tenant-owned", "TenantViewSet", "``", "_PATH`"):
        assert leak not in text, leak
    assert set(paths["/api/v1/voice/live/restart/"]) == {"post"}  # GET was documented (and 405)
    assert set(paths["/api/v1/voice/live/refresh/"]) == {"post"}
    assert set(paths["/api/v1/voice/live/status/"]) == {"get"}

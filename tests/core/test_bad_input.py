"""Bad input gets a 4xx with the standard error body, never a 500."""

from __future__ import annotations

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def assert_error_body(response, status):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["message"]
    return body["error"]


def test_malformed_json(tenants, api_as):
    client = api_as(tenants["alice"])
    response = client.patch(
        f"/api/v1/organizations/{tenants['a'].pk}/", data=b'{"name": "x",', content_type="application/json"
    )
    assert assert_error_body(response, 400)["code"] == "parse_error"


def test_wrong_types_name_the_field(tenants, api_as):
    client = api_as(tenants["alice"])
    response = client.patch(f"/api/v1/organizations/{tenants['a'].pk}/", data={"name": ["not", "a", "string"]}, format="json")
    error = assert_error_body(response, 400)
    assert "name" in error["fields"]


def test_json_array_instead_of_object(tenants, api_as):
    client = api_as(tenants["alice"])
    response = client.post("/api/v1/members/", data=[1, 2, 3], format="json")
    assert 400 <= response.status_code < 500


@override_settings(MAX_BODY_BYTES=1000)
def test_oversized_body_is_413(tenants, api_as):
    client = api_as(tenants["alice"])
    response = client.patch(
        f"/api/v1/organizations/{tenants['a'].pk}/", data={"name": "x" * 5000}, format="json"
    )
    error = assert_error_body(response, 413)
    assert error["code"] == "body_too_large"
    tenants["a"].refresh_from_db()
    assert tenants["a"].name == "Empresa A"


def test_unknown_api_path_is_json_404(tenants, api_as):
    response = api_as(tenants["alice"]).get("/api/v1/nao-existe/")
    assert_error_body(response, 404)


def test_bad_input_is_counted_in_metrics(tenants, api_as, client, settings):
    settings.METRICS_OPEN = True
    client_api = api_as(tenants["alice"])
    client_api.patch(f"/api/v1/organizations/{tenants['a'].pk}/", data=b"{", content_type="application/json")
    text = client.get("/metrics").content.decode()
    assert 'central_bad_input_total{reason="parse_error",source="api"}' in text


# --- Inputs that used to escape as 500s (issue 8, finding 15) -------------------------------


def test_deeply_nested_json_is_400_not_500(tenants, api_as):
    """50,000 nested arrays made json.loads raise RecursionError, which DRF let through."""
    client = api_as(tenants["alice"])
    depth = 50_000
    body = ("[" * depth + "]" * depth).encode()
    response = client.generic("PATCH", f"/api/v1/organizations/{tenants['a'].pk}/", body,
                              content_type="application/json")
    assert assert_error_body(response, 400)["code"] == "parse_error"
    nested_object = ('{"a":' * depth + "1" + "}" * depth).encode()
    response = client.generic("POST", "/api/v1/invitations/", nested_object, content_type="application/json")
    assert assert_error_body(response, 400)["code"] == "parse_error"


@pytest.mark.parametrize("value", [str(10**30), "9223372036854775808", "²", "12 3", "a/b"])
def test_malformed_organization_header_is_400(tenants, api_as, value):
    response = api_as(tenants["alice"]).get("/api/v1/me/organization/", HTTP_X_ORGANIZATION=value)
    assert assert_error_body(response, 400)["code"] == "invalid_organization"


def test_largest_possible_id_in_header_is_404_like_any_foreign_org(tenants, api_as):
    response = api_as(tenants["alice"]).get("/api/v1/me/organization/", HTTP_X_ORGANIZATION="9223372036854775807")
    assert_error_body(response, 404)


@pytest.mark.parametrize("value", [str(10**30), "²", "abc"])
def test_dashboard_org_switch_with_bad_id_is_400(tenants, client, value):
    client.force_login(tenants["alice"])
    response = client.post("/org/switch/", {"organization": value})
    assert response.status_code == 400


@pytest.mark.parametrize("value", ["abc", str(10**30), "²"])
def test_dnc_form_with_non_numeric_campaign_is_400(tenants, client, value):
    from central.dialer.models import DoNotCall

    client.force_login(tenants["alice"])
    response = client.post("/dialer/dnc/", {"phone": "11987654321", "campaign": value})
    assert response.status_code == 400
    assert not DoNotCall.objects.exists()


@pytest.mark.parametrize("value", ["abc", str(10**30)])
def test_dnc_import_with_non_numeric_campaign_is_400(tenants, api_as, value):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("dnc.csv", b"telefone\n11987654321\n", content_type="text/csv")
    response = api_as(tenants["alice"]).post(f"/api/v1/dialer/dnc/import/?campaign={value}", {"file": upload},
                                             format="multipart")
    assert "campaign" in assert_error_body(response, 400)["fields"]


def test_huge_id_in_page_url_is_404(tenants, client):
    client.force_login(tenants["alice"])
    assert client.get(f"/dialer/campaigns/{10**30}/").status_code == 404


def _api_routes():
    """Every concrete /api/v1/ route of the URL map (detail routes get id 1)."""
    import re

    from django.urls import get_resolver

    from tests.core.test_tenant_isolation import walk

    routes = set()
    for route, _pattern in walk(get_resolver().url_patterns):
        if not route.startswith("api/v1/") or "(?P<format>" in route or "\\." in route:
            continue
        path = re.sub(r"\(\?P<[^>]+>[^)]*\)|<[^>]+>", "1", route).replace("^", "").replace("$", "")
        routes.add("/" + path)
    return sorted(routes)


def test_no_endpoint_answers_500_to_deep_json_or_a_malformed_organization(tenants, api_as, settings, monkeypatch):
    """The rule of finding 15 for every endpoint, present and future: the parser and the
    organization header are shared, so no route may turn them into a 500 (a 503 from a
    route that calls the voice process, down here, is an answer, not a crash)."""
    from tests.support import free_port

    settings.RATE_API = settings.RATE_AUTH = "100000/min,100000/day"
    # routes that call the voice process must reach nothing here (a closed port: 503)
    monkeypatch.setenv("CENTRAL_VOICE_API_URL", f"http://127.0.0.1:{free_port()}")
    client = api_as(tenants["alice"])
    deep = ("[" * 50_000 + "]" * 50_000).encode()
    routes = _api_routes()
    assert "/api/v1/members/1/" in routes and "/api/v1/invitations/accept/" in routes
    for path in routes:
        for method in ("POST", "PUT", "PATCH"):
            response = client.generic(method, path, deep, content_type="application/json")
            assert response.status_code != 500, (method, path, response.content[:200])
            if response.status_code == 400:
                assert response.json()["error"]["code"] == "parse_error", (method, path, response.content[:200])
        for bad in ("²", str(10**30)):
            response = client.get(path, HTTP_X_ORGANIZATION=bad)
            assert response.status_code != 500, (path, bad, response.content[:200])

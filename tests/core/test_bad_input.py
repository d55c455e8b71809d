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


def test_bad_input_is_counted_in_metrics(tenants, api_as, client):
    client_api = api_as(tenants["alice"])
    client_api.patch(f"/api/v1/organizations/{tenants['a'].pk}/", data=b"{", content_type="application/json")
    text = client.get("/metrics").content.decode()
    assert 'central_bad_input_total{reason="parse_error",source="api"}' in text

"""Critical actions leave an audit row with who, what, when and from where."""

from __future__ import annotations

import pytest

from central.core.models import AuditLog

pytestmark = pytest.mark.django_db


def test_session_login_is_audited(tenants, client):
    response = client.post("/login/", {"username": "alice", "password": "senha-forte-123"}, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 302
    entry = AuditLog.objects.get(action="auth.login")
    assert entry.actor == tenants["alice"]
    assert entry.ip == "10.1.2.3"
    assert entry.request_id


def test_failed_login_is_audited_without_password(tenants, client):
    client.post("/login/", {"username": "alice", "password": "segredo-errado"})
    entry = AuditLog.objects.get(action="auth.login_failed")
    assert entry.details == {"username": "alice"}
    assert "segredo" not in str(entry.details)


def test_invitation_and_acceptance_are_audited_in_the_tenant(tenants, api_as):
    from django.contrib.auth import get_user_model

    response = api_as(tenants["alice"]).post(
        "/api/v1/invitations/", {"email": "nova@example.com", "role": "agent"}, format="json"
    )
    assert response.status_code == 201, response.content
    entry = AuditLog.objects.get(action="invitation.create")
    assert entry.organization == tenants["a"]
    assert entry.actor == tenants["alice"]
    nova = get_user_model().objects.create_user("nova", "nova@example.com", "senha-forte-123")
    accepted = api_as(nova).post("/api/v1/invitations/accept/", {"token": response.json()["token"]}, format="json")
    assert accepted.status_code == 200, accepted.content
    entry = AuditLog.objects.get(action="invitation.accept")
    assert (entry.organization, entry.actor) == (tenants["a"], nova)
    listed = api_as(tenants["alice"]).get("/api/v1/audit-log/", {"action": "invitation.create"}).json()
    assert [row["actor_name"] for row in listed["results"]] == ["alice"]

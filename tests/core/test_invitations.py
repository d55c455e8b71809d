"""Members join by invitation, never by user id (issue 8, finding 2).

Before the fix POST/PATCH /api/v1/members/ took any ``user_id`` of the installation: it
revealed other tenants' usernames and e-mails, added the superuser as owner, and re-pointed
memberships so that another tenant's user silently got the attacker's organization as
default. These tests pin the replacement: invitations with a hashed token, accepted by the
signed-in person they name, and a default organization only the user chooses.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from central.core.models import AuditLog, Invitation, Membership, hash_invitation_token

pytestmark = pytest.mark.django_db


def invite(client, **body):
    body.setdefault("role", "agent")
    return client.post("/api/v1/invitations/", body, format="json")


def accept(client, token):
    return client.post("/api/v1/invitations/accept/", {"token": token}, format="json")


def new_user(name, email=None):
    return get_user_model().objects.create_user(name, email or f"{name}@example.com", "senha-forte-123")


# --- the attacks of the finding ---------------------------------------------------------------


def test_members_cannot_be_added_by_user_id(tenants, api_as):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "senha-forte-123")
    alice = api_as(tenants["alice"])
    for user in (tenants["bob"], root):
        response = alice.post("/api/v1/members/", {"user_id": user.pk, "role": "owner"}, format="json")
        assert response.status_code == 405, response.content
        assert user.username not in response.content.decode()
        assert not Membership.objects.filter(user=user, organization=tenants["a"]).exists()


def test_membership_user_never_changes(tenants, api_as):
    vera = Membership.objects.get(user=tenants["vera"])
    response = api_as(tenants["alice"]).patch(
        f"/api/v1/members/{vera.pk}/", {"user_id": tenants["bob"].pk, "role": "agent"}, format="json"
    )
    assert response.status_code == 200, response.content
    vera.refresh_from_db()
    assert vera.user == tenants["vera"]
    assert "bob" not in response.content.decode()
    # bob's requests without a header still land in his own organization
    assert api_as(tenants["bob"]).get("/api/v1/me/organization/").json()["id"] == tenants["b"].pk
    with pytest.raises(ValueError):
        vera.user = tenants["bob"]
        vera.save()


def test_inviting_reveals_nothing_about_other_tenants_users(tenants, api_as):
    alice = api_as(tenants["alice"])
    existing = invite(alice, username="bob")
    missing = invite(alice, username="ninguem-com-esse-nome")
    assert existing.status_code == missing.status_code == 201
    for response in (existing, missing):
        assert "bob@example.com" not in response.content.decode()
        assert set(response.json()) == {
            "id", "email", "username", "role", "status", "invited_by", "created_at", "expires_at",
            "accepted_at", "revoked_at", "token", "accept_url",
        }
    assert not Membership.objects.filter(user=tenants["bob"], organization=tenants["a"]).exists()


# --- invitations --------------------------------------------------------------------------------


def test_invitation_by_email_is_accepted_by_that_user_only(tenants, api_as):
    created = invite(api_as(tenants["alice"]), email="Nova@Example.com", role="supervisor")
    assert created.status_code == 201, created.content
    token = created.json()["token"]
    assert created.json()["accept_url"].endswith(f"/invitations/{token}/")
    other = new_user("outro")
    refused = accept(api_as(other), token)
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"]["token"]
    nova = new_user("nova", "nova@example.com")
    accepted = accept(api_as(nova), token)
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["organization"]["id"] == tenants["a"].pk
    assert Membership.objects.get(user=nova, organization=tenants["a"]).role == "supervisor"
    assert accept(api_as(nova), token).status_code == 400, "a token opens one membership, once"
    listed = api_as(tenants["alice"]).get("/api/v1/invitations/").json()["results"]
    assert [(i["status"], i["email"]) for i in listed] == [("accepted", "Nova@Example.com")]
    assert "token" not in listed[0]


def test_invitation_by_username(tenants, api_as):
    token = invite(api_as(tenants["bob"]), username="alice", role="viewer").json()["token"]
    assert accept(api_as(tenants["alice"]), token).status_code == 200
    assert Membership.objects.get(user=tenants["alice"], organization=tenants["b"]).role == "viewer"


def test_token_is_stored_only_hashed(tenants, api_as):
    token = invite(api_as(tenants["alice"]), email="x@example.com").json()["token"]
    invitation = Invitation.objects.get()
    assert invitation.token_hash == hash_invitation_token(token)
    assert token not in str(Invitation.objects.values().get())
    assert token not in str(list(AuditLog.objects.values()))


def test_expired_and_revoked_invitations_cannot_be_accepted(tenants, api_as):
    alice = api_as(tenants["alice"])
    nova = new_user("nova")
    expired = invite(alice, email="nova@example.com").json()
    Invitation.objects.filter(pk=expired["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert accept(api_as(nova), expired["token"]).status_code == 400
    revoked = invite(alice, email="nova@example.com").json()
    response = alice.post(f"/api/v1/invitations/{revoked['id']}/revoke/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "revoked"
    assert AuditLog.objects.filter(action="invitation.revoke").exists()
    assert accept(api_as(nova), revoked["token"]).status_code == 400
    assert accept(api_as(nova), "x" * 43).status_code == 400
    assert not Membership.objects.filter(user=nova).exists()


def test_duplicates_are_400_not_500(tenants, api_as):
    alice = api_as(tenants["alice"])
    member = invite(alice, username="vera")
    assert member.status_code == 400 and member.json()["error"]["fields"]["username"]
    assert invite(alice, email="VERA@example.com").status_code == 400
    assert invite(alice, email="nova@example.com").status_code == 201
    assert invite(alice, email="nova@example.com").status_code == 400, "one pending invitation per person"
    # two invitations for one person (by e-mail and by username): the second acceptance is a 400
    nova = new_user("nova", "nova@example.com")
    by_name = invite(alice, username="nova").json()["token"]
    by_mail = Invitation.objects.get(email="nova@example.com")
    token, token_hash = Invitation.new_token()
    Invitation.objects.filter(pk=by_mail.pk).update(token_hash=token_hash)
    assert accept(api_as(nova), by_name).status_code == 200
    second = accept(api_as(nova), token)
    assert second.status_code == 400, second.content
    assert Membership.objects.filter(user=nova, organization=tenants["a"]).count() == 1


def test_exactly_one_of_email_or_username(tenants, api_as):
    alice = api_as(tenants["alice"])
    assert invite(alice).status_code == 400
    assert invite(alice, email="a@example.com", username="a").status_code == 400


def test_invitations_are_for_admins_and_owners(tenants, api_as):
    assert api_as(tenants["artur"]).get("/api/v1/invitations/").status_code == 403
    assert invite(api_as(tenants["artur"]), email="x@example.com").status_code == 403


def test_inviter_demoted_before_acceptance_grants_nothing(tenants, api_as):
    adm = new_user("adm")
    Membership.objects.create(user=adm, organization=tenants["a"], role="admin")
    token = invite(api_as(adm), email="nova@example.com", role="admin").json()["token"]
    Membership.objects.filter(user=adm).update(role="agent")
    nova = new_user("nova", "nova@example.com")
    assert accept(api_as(nova), token).status_code == 400
    assert not Membership.objects.filter(user=nova).exists()


# --- default organization -------------------------------------------------------------------------


def test_joining_another_organization_does_not_move_the_default(tenants, api_as):
    token = invite(api_as(tenants["bob"]), username="alice").json()["token"]
    alice = api_as(tenants["alice"])
    assert accept(alice, token).status_code == 200
    assert alice.get("/api/v1/me/organization/").json()["id"] == tenants["a"].pk
    assert alice.get("/api/v1/me/").json()["default_organization"] == tenants["a"].pk
    chosen = alice.put("/api/v1/me/default-organization/", {"organization": "empresa-b"}, format="json")
    assert chosen.status_code == 200, chosen.content
    assert alice.get("/api/v1/me/organization/").json()["id"] == tenants["b"].pk
    assert alice.get("/api/v1/me/default-organization/").json()["slug"] == "empresa-b"
    assert AuditLog.objects.filter(action="membership.default", actor=tenants["alice"]).exists()
    assert alice.get("/api/v1/me/organization/", HTTP_X_ORGANIZATION="empresa-a").json()["id"] == tenants["a"].pk


def test_default_organization_must_be_ones_own(tenants, api_as):
    alice = api_as(tenants["alice"])
    foreign = alice.put("/api/v1/me/default-organization/", {"organization": str(tenants["b"].pk)}, format="json")
    missing = alice.put("/api/v1/me/default-organization/", {"organization": "999999"}, format="json")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()


def test_without_default_and_several_organizations_the_request_must_choose(tenants, api_as):
    token = invite(api_as(tenants["bob"]), username="alice").json()["token"]
    alice = api_as(tenants["alice"])
    accept(alice, token)
    Membership.objects.filter(user=tenants["alice"]).update(is_default=False)
    response = alice.get("/api/v1/me/organization/")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "organization_required"
    assert alice.get("/api/v1/me/organization/", HTTP_X_ORGANIZATION="empresa-b").status_code == 200


def test_first_membership_becomes_the_default(tenants):
    assert Membership.objects.get(user=tenants["alice"]).is_default


# --- dashboard acceptance page -----------------------------------------------------------------------


def test_dashboard_acceptance_page(tenants, api_as, client):
    token = invite(api_as(tenants["alice"]), email="nova@example.com", role="viewer").json()["token"]
    url = f"/invitations/{token}/"
    assert client.get(url).status_code == 302, "signed-out visitors sign in first"
    new_user("nova", "nova@example.com")
    client.login(username="nova", password="senha-forte-123")
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="pt-br")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Convite para Empresa A" in text
    assert "alice convidou você" in text
    accepted = client.post(url)
    assert accepted.status_code == 302
    assert Membership.objects.filter(user__username="nova", organization=tenants["a"], role="viewer").exists()
    home = client.get("/", HTTP_ACCEPT_LANGUAGE="pt-br")
    assert "Agora você faz parte de Empresa A" in home.content.decode()
    again = client.get(url)
    assert again.status_code == 404
    assert "Convite inválido ou expirado" in again.content.decode()


def test_dashboard_page_for_someone_else_is_invalid(tenants, api_as, client):
    token = invite(api_as(tenants["alice"]), email="nova@example.com").json()["token"]
    client.force_login(tenants["bob"])
    page = client.get(f"/invitations/{token}/")
    assert page.status_code == 404
    assert "Empresa A" not in page.content.decode()
    assert client.post(f"/invitations/{token}/").status_code == 404
    assert not Membership.objects.filter(user=tenants["bob"], organization=tenants["a"]).exists()

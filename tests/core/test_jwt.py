"""JWT: login, refresh with rotation, blacklist on rotation and logout, expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

pytestmark = pytest.mark.django_db


def login(client, username="alice", password="senha-forte-123"):
    return client.post("/api/v1/auth/token/", {"username": username, "password": password}, format="json")


def test_login_returns_access_and_refresh(tenants):
    response = login(APIClient())
    assert response.status_code == 200, response.content
    assert {"access", "refresh"} <= response.json().keys()
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert me.get("/api/v1/me/").json()["username"] == "alice"


def test_wrong_password_is_401_with_error_body(tenants):
    response = login(APIClient(), password="errada")
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"no_active_account", "authentication_failed"}


def test_refresh_rotates_and_blacklists_the_old_refresh(tenants):
    """Rotation; the replay of the old token is also a theft signal (see the family test below)."""
    client = APIClient()
    first = login(client).json()
    rotated = client.post("/api/v1/auth/token/refresh/", {"refresh": first["refresh"]}, format="json")
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != first["refresh"]
    replay = client.post("/api/v1/auth/token/refresh/", {"refresh": first["refresh"]}, format="json")
    assert replay.status_code == 401
    assert "error" in replay.json()
    again = client.post("/api/v1/auth/token/refresh/", {"refresh": rotated.json()["refresh"]}, format="json")
    assert again.status_code == 401, "the replay revoked the family, successor included"


def test_logout_blacklists_refresh(tenants):
    client = APIClient()
    tokens = login(client).json()
    assert client.post("/api/v1/auth/logout/", {"refresh": tokens["refresh"]}, format="json").status_code == 200
    after = client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert after.status_code == 401


def test_expired_access_token_is_rejected(tenants):
    token = AccessToken.for_user(tenants["alice"])
    token.set_exp(lifetime=-timedelta(seconds=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


def test_access_lifetime_is_15_minutes_and_refresh_7_days(tenants):
    from django.conf import settings

    assert settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] == timedelta(minutes=15)
    assert settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"] == timedelta(days=7)
    token = AccessToken(login(APIClient()).json()["access"])
    assert 14 * 60 < token["exp"] - token["iat"] <= 15 * 60


def test_reusing_a_rotated_refresh_token_revokes_its_whole_family(tenants, settings):
    """Issue 8, finding 18: the replay was refused but its successor stayed valid."""
    settings.RATE_AUTH = "100/min,1000/hour"  # this test signs in and refreshes more than 5 times
    from central.core.models import AuditLog

    client = APIClient()
    first = login(client).json()
    other_device = login(client).json()  # another sign-in: another family
    rotated = client.post("/api/v1/auth/token/refresh/", {"refresh": first["refresh"]}, format="json").json()
    successor = client.post("/api/v1/auth/token/refresh/", {"refresh": rotated["refresh"]}, format="json").json()

    replay = client.post("/api/v1/auth/token/refresh/", {"refresh": first["refresh"]}, format="json")
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "token_not_valid"
    after = client.post("/api/v1/auth/token/refresh/", {"refresh": successor["refresh"]}, format="json")
    assert after.status_code == 401, "the thief's (or the user's) newest refresh token dies with the family"
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {successor['access']}")
    assert api.get("/api/v1/me/").status_code == 401, "and so do the family's access tokens"
    entry = AuditLog.objects.filter(action="auth.refresh_reuse").order_by("id").first()
    assert entry.actor == tenants["alice"]
    assert entry.details["revoked"] == 1  # the successor; the other sign-in is another family

    still = client.post("/api/v1/auth/token/refresh/", {"refresh": other_device["refresh"]}, format="json")
    assert still.status_code == 200, "other sign-ins of the same user are untouched"
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {still.json()['access']}")
    assert api.get("/api/v1/me/").status_code == 200


def test_refresh_after_logout_revokes_the_family(tenants):
    client = APIClient()
    tokens = login(client).json()
    rotated = client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json").json()
    assert client.post("/api/v1/auth/logout/", {"refresh": rotated["refresh"]}, format="json").status_code == 200
    assert client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json").status_code == 401
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {rotated['access']}")
    assert api.get("/api/v1/me/").status_code == 401

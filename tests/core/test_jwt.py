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
    client = APIClient()
    first = login(client).json()
    rotated = client.post("/api/v1/auth/token/refresh/", {"refresh": first["refresh"]}, format="json")
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != first["refresh"]
    replay = client.post("/api/v1/auth/token/refresh/", {"refresh": first["refresh"]}, format="json")
    assert replay.status_code == 401
    assert "error" in replay.json()
    again = client.post("/api/v1/auth/token/refresh/", {"refresh": rotated.json()["refresh"]}, format="json")
    assert again.status_code == 200


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

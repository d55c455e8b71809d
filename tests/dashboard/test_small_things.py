"""Issue 12's "smaller things a user notices": the favicon, the login form keeping the
username after a wrong password, and its footer."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_favicon_is_served(client):
    from django.contrib.staticfiles import finders

    page = client.get("/login/").content.decode()
    assert 'rel="icon" href="/static/dashboard/favicon.svg"' in page
    assert finders.find("dashboard/favicon.svg")
    response = client.get("/favicon.ico")  # was a 404 (the dashboard's not-found page)
    assert response.status_code == 301 and response["Location"] == "/static/dashboard/favicon.svg"


def test_failed_login_keeps_the_username(tenants, client):
    page = client.post("/login/", {"username": "alice", "password": "errada"}).content.decode()
    assert "Usuário ou senha incorretos" in page
    assert 'name="username" autocomplete="username" required value="alice"' in page  # was emptied
    escaped = client.post("/login/", {"username": '"><script>x', "password": "errada"}).content.decode()
    assert "<script>x" not in escaped

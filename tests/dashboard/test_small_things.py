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


def test_a_link_to_another_organizations_object_offers_to_switch(tenants, client):
    """A member of both organizations gets a way there; anyone else the same bare 404
    whether the object exists or not (tenant isolation: nothing is revealed)."""
    from central.core.models import Membership
    from tests.dialer import factories

    theirs = factories.campaign(tenants["b"], name="Campanha de B")
    url = f"/dialer/campaigns/{theirs.pk}/"
    missing = f"/dialer/campaigns/{theirs.pk + 1000}/"

    client.force_login(tenants["vera"])  # member of A only
    alone = client.get(url)
    assert alone.status_code == 404 and "org-elsewhere" not in alone.content.decode()
    assert "Empresa B" not in alone.content.decode()
    bare = [client.get(u).content.decode() for u in (url, missing)]
    assert all("org-elsewhere" not in page and "Empresa B" not in page for page in bare)

    Membership.objects.create(user=tenants["vera"], organization=tenants["b"], role="viewer")
    page = client.get(url)
    body = page.content.decode()
    assert page.status_code == 404 and 'data-testid="org-elsewhere"' in body
    assert "Trocar para Empresa B" in body and f'name="organization" value="{tenants["b"].pk}"' in body
    assert "org-elsewhere" not in client.get(missing).content.decode()
    # Following the hint opens the page.
    switched = client.post("/org/switch/", {"organization": tenants["b"].pk, "next": url}, follow=True)
    assert switched.status_code == 200 and "Campanha de B" in switched.content.decode()

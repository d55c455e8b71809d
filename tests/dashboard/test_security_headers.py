"""Rules 3 and 4 of docs/security.md: redirects stay on this site; every page carries a
Content-Security-Policy without inline code allowances."""

from __future__ import annotations

import re

import pytest

from central.core.models import Membership, Organization

pytestmark = pytest.mark.django_db


@pytest.fixture
def switcher(client, tenants):
    other = Organization.objects.create(name="Outra", slug="outra")
    Membership.objects.create(user=tenants["alice"], organization=other, role="viewer")
    client.force_login(tenants["alice"])
    return lambda nxt: client.post("/org/switch/", {"organization": other.pk, "next": nxt})


@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/x", "http://evil.example",
                                  "https:evil.example", "/\\evil.example", "javascript:alert(1)"])
def test_org_switch_never_redirects_off_site(switcher, evil):
    """Before: the redirect followed next=https://evil.example/ and //evil.example/x."""
    response = switcher(evil)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_org_switch_returns_to_the_page_it_came_from(switcher):
    assert switcher("/telephony/calls/")["Location"] == "/telephony/calls/"


@pytest.mark.parametrize("path", ["/", "/login/", "/api/docs/", "/telephony/calls/", "/dialer/"])
def test_every_page_has_a_strict_csp_with_a_fresh_nonce(client, tenants, path):
    client.force_login(tenants["alice"])
    first, second = client.get(path), client.get(path)
    assert first.status_code == 200, first.content[:300]
    policy = first["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert not re.search(r"https?://", policy), "nothing loads from another origin"
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert nonce != re.search(r"'nonce-([^']+)'", second["Content-Security-Policy"]).group(1)
    html = first.content.decode()
    # Every inline script/style carries this response's nonce; no inline handlers/styles.
    for tag in re.findall(r"<(?:script|style)\b[^>]*>", html):
        if "src=" in tag or "application/json" in tag:
            continue
        assert f'nonce="{nonce}"' in tag, tag
    assert not re.search(r"\son[a-z]+=\"", html) and " style=\"" not in html
    assert "cdn." not in html and "googleapis" not in html

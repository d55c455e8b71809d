"""Sign-in limits per account and per client on every login surface (issue 8, finding 5).

Before the fix the dashboard ``/login/`` and ``/admin/login/`` had no limit (25 wrong
passwords then the right one were all accepted) and the API's per-client limit was
bypassed by sending a different ``X-Forwarded-For`` each time (the invented addresses went
into the audit log too). The walker below finds every sign-in-like URL in the URL map and
fails for one that is neither driven here nor exempted with a reason.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import get_resolver
from rest_framework.test import APIClient

from central.core.models import AuditLog
from tests.core.test_tenant_isolation import walk

pytestmark = pytest.mark.django_db

PASSWORD = "senha-forte-123"

# Surfaces that take a username and a password: the per-account and per-client limits.
CREDENTIALS = {"api/v1/auth/token/": "api", "login/": "form", "admin/login/": "form"}
# Surfaces that take a token: the per-client request limit (CENTRAL_RATE_AUTH).
TOKENS = {"api/v1/auth/token/refresh/": "refresh", "api/v1/auth/logout/": "refresh",
          "api/v1/invitations/accept/": "token"}
EXEMPT = {
    "logout/": "ends the caller's own session; no credential",
    "invitations/<str:token>/": "needs a signed-in session first; the token has 256 random bits",
    "admin/auth/user/<id>/password/": "operator page behind a staff session; sets a password, checks none",
}
_AUTHISH = re.compile(r"login|logout|token|password|passwd|auth/|signin|sign-in|accept|otp|mfa", re.I)


def auth_routes() -> set[str]:
    found = set()
    for route, pattern in walk(get_resolver().url_patterns):
        callback = pattern.callback
        if getattr(callback, "model_admin", None) is not None or getattr(callback, "admin_site", None) is not None:
            continue  # admin pages behind a staff session (the admin's own login is not wrapped)
        if "(?P<format>" in route or "\\." in route:
            continue  # DRF format-suffix duplicates
        if _AUTHISH.search(route):
            found.add(route)
    return found


def test_every_auth_url_is_limited_or_exempt_with_a_reason():
    known = set(CREDENTIALS) | set(TOKENS) | set(EXEMPT)
    found = auth_routes()
    assert found == known, f"unclassified sign-in URLs: {found - known}; stale: {known - found}"


def attempt(surface: str, url: str, username: str, password: str, address: str, forwarded: str = ""):
    extra = {"REMOTE_ADDR": address}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    if CREDENTIALS[url] == "api":
        client = APIClient()
        response = client.post(f"/{url}", {"username": username, "password": password}, format="json", **extra)
        return response, response.status_code == 200
    client = Client()
    response = client.post(f"/{url}", {"username": username, "password": password}, **extra)
    return response, "_auth_user_id" in client.session


@pytest.fixture
def staff_alice(tenants):
    tenants["alice"].is_staff = True  # the admin login only lets staff in
    tenants["alice"].save()
    return tenants


@pytest.fixture
def loose_api_limit(settings):
    settings.RATE_AUTH = "10000/min,10000/day"  # isolate the sign-in limits from the request limit


@pytest.mark.parametrize("url", sorted(CREDENTIALS))
def test_account_limit_holds_across_addresses(url, staff_alice, settings, loose_api_limit):
    settings.LOGIN_FAILURES_ACCOUNT = "5/min,5/day"
    settings.LOGIN_FAILURES_CLIENT = "10000/min,10000/day"
    for i in range(25):
        _, ok = attempt(url, url, "alice", "errada", f"10.1.{i // 200}.{i % 200 + 1}", forwarded=f"198.51.100.{i}")
        assert not ok
    response, ok = attempt(url, url, "alice", PASSWORD, "10.9.9.9")
    assert not ok, f"{url}: the right password after 25 wrong ones was accepted"
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    if CREDENTIALS[url] == "api":
        assert response.json()["error"]["code"] == "throttled"
    else:
        assert "Muitas tentativas" in response.content.decode()
    # another account is not affected
    staff_bob = staff_alice["bob"]
    staff_bob.is_staff = True
    staff_bob.save()
    assert attempt(url, url, "bob", PASSWORD, "10.9.9.10")[1]


@pytest.mark.parametrize("url", sorted(CREDENTIALS))
def test_client_limit_holds_across_accounts(url, staff_alice, settings, loose_api_limit):
    settings.LOGIN_FAILURES_ACCOUNT = "10000/min,10000/day"
    settings.LOGIN_FAILURES_CLIENT = "5/min,5/day"
    for i in range(25):
        assert not attempt(url, url, f"conta{i}", "errada", "203.0.113.7")[1]
    response, ok = attempt(url, url, "alice", PASSWORD, "203.0.113.7")
    assert not ok and response.status_code == 429
    assert attempt(url, url, "alice", PASSWORD, "203.0.113.8")[1], "other addresses still sign in"


@pytest.mark.parametrize("url", sorted(CREDENTIALS))
def test_right_passwords_do_not_count(url, staff_alice, settings, loose_api_limit):
    settings.LOGIN_FAILURES_ACCOUNT = "3/min,3/day"
    settings.LOGIN_FAILURES_CLIENT = "3/min,3/day"
    for _ in range(10):
        assert attempt(url, url, "alice", PASSWORD, "192.0.2.1")[1]


@pytest.mark.parametrize("url", sorted(TOKENS))
def test_token_surfaces_have_the_per_client_limit(url, tenants, settings):
    settings.RATE_AUTH = "5/min,5/day"
    client = APIClient()
    client.force_authenticate(tenants["alice"])  # the accept endpoint needs a user; harmless elsewhere
    codes = [
        client.post(f"/{url}", {TOKENS[url]: f"invalido-{i}" * 4}, format="json",
                    REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
        for i in range(7)
    ]
    assert 429 not in codes[:5], codes
    assert codes[5:] == [429, 429], codes


def test_forwarded_for_is_not_believed_without_trusted_proxies(tenants, settings):
    """The API bypass of the finding: a new X-Forwarded-For per attempt was a new client."""
    settings.RATE_AUTH = "5/min,5/day"
    codes = [
        APIClient().post("/api/v1/auth/token/", {"username": "alice", "password": "errada"}, format="json",
                         REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
        for i in range(6)
    ]
    assert codes == [401] * 5 + [429]
    ips = set(AuditLog.objects.filter(action="auth.login_failed").values_list("ip", flat=True))
    assert ips == {"203.0.113.5"}, "spoofed addresses must not reach the audit log"


@pytest.mark.parametrize(
    ("proxies", "peer", "forwarded", "client"),
    [
        ([], "203.0.113.5", "1.2.3.4", "203.0.113.5"),
        (["127.0.0.1"], "127.0.0.1", "198.51.100.7", "198.51.100.7"),
        (["127.0.0.1"], "127.0.0.1", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # client-prepended hop ignored
        (["127.0.0.1", "10.0.0.0/8"], "127.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.3", "198.51.100.7"),
        (["127.0.0.1"], "203.0.113.5", "1.2.3.4", "203.0.113.5"),  # not from a trusted proxy
        (["127.0.0.1"], "127.0.0.1", "", "127.0.0.1"),
        (["127.0.0.1"], "127.0.0.1", "lixo, 127.0.0.1", "127.0.0.1"),
        (["::1"], "::1", "2001:db8::5", "2001:db8::5"),
    ],
)
def test_client_address_reads_forwarded_for_only_from_trusted_proxies(settings, rf, proxies, peer, forwarded, client):
    from central.core.clientaddr import client_ip

    settings.TRUSTED_PROXIES = proxies
    request = rf.get("/", REMOTE_ADDR=peer, **({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}))
    assert client_ip(request) == client


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(tenants, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.RATE_AUTH = "3/min,3/day"

    def post(xff):
        return APIClient().post("/api/v1/auth/token/", {"username": "ninguem", "password": "x"}, format="json",
                                REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=xff).status_code

    assert [post(f"{i}.{i}.{i}.{i}, 198.51.100.1") for i in range(1, 5)] == [401, 401, 401, 429]
    assert post("198.51.100.2") == 401
    assert set(AuditLog.objects.values_list("ip", flat=True)) == {"198.51.100.1", "198.51.100.2"}


def test_only_the_guarded_backend_is_configured():
    """A second backend would check passwords outside the limit."""
    from django.conf import settings

    assert settings.AUTHENTICATION_BACKENDS == ["central.core.loginguard.GuardedModelBackend"]


def test_real_web_process_believes_forwarded_for_only_from_configured_proxies(tmp_path):
    """Over a real socket: uvicorn used to rewrite the client address from X-Forwarded-For
    for any loopback peer, so a local client chose its own address for the limit and the
    audit log. With no trusted proxy the header is ignored; listing 127.0.0.1 as the proxy
    makes the rightmost forwarded hop the client."""
    import httpx

    from tests.support import free_port, migrated_env, query_database, start_central

    for trusted, expected in (("", "127.0.0.1"), ("127.0.0.1", "198.51.100.23")):
        env = migrated_env(tmp_path / f"data{bool(trusted)}", CENTRAL_TRUSTED_PROXIES=trusted)
        port = free_port()
        proc = start_central(["web", "--port", str(port)], env, port, tmp_path / f"web{bool(trusted)}.log")
        try:
            response = httpx.post(f"{proc.url}/api/v1/auth/token/", json={"username": "ninguem", "password": "x"},
                                  headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.23"}, timeout=10)
            assert response.status_code == 401, response.text
        finally:
            proc.stop()
        # Read directly: a `manage shell` per look costs a Python and Django start.
        rows = query_database(env, "SELECT ip FROM core_auditlog WHERE action = 'auth.login_failed'")
        assert [str(ip) for (ip,) in rows] == [expected]  # PostgreSQL's inet comes as an ip_address

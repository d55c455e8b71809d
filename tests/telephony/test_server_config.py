"""Which servers the PBX link connects to: the database rows and CENTRAL_AMI_URL."""

from __future__ import annotations

import pytest

from central.core.models import Organization
from central.telephony.link import ConfigError, env_server, parse_ami_url, targets_from_db
from central.telephony.models import AsteriskServer
from tests.telephony.factories import server_for

pytestmark = pytest.mark.django_db


def test_ami_url_parsing():
    assert parse_ami_url("ami://central@10.0.0.5:5039") == ("10.0.0.5", 5039, "central")
    assert parse_ami_url("ami://central@pbx.example.com") == ("pbx.example.com", 5038, "central")
    for bad, needle in [("http://central@h:5038", "ami://"), ("ami://h:5038", "ami://"),
                        ("ami://central:segredo@h:5038", "CENTRAL_AMI_SECRET"),
                        ("ami://central@h:99999", "port")]:
        with pytest.raises(ConfigError, match=needle):
            parse_ami_url(bad)


def test_env_server_picks_the_tenant_and_never_stores_the_secret():
    url = {"CENTRAL_AMI_URL": "ami://central@10.0.0.5:5038", "CENTRAL_AMI_SECRET": "s3cr3t"}
    Organization.objects.create(name="A", slug="a")
    only = env_server(url)
    assert (only.organization.slug, only.name, only.host, only.secret_env) == ("a", "principal", "10.0.0.5", "CENTRAL_AMI_SECRET")
    assert "s3cr3t" not in str(AsteriskServer.objects.filter(pk=only.pk).values().get())

    Organization.objects.create(name="B", slug="b")
    with pytest.raises(ConfigError, match="CENTRAL_AMI_ORG"):
        env_server(url)
    with pytest.raises(ConfigError, match="no such organization"):
        env_server({**url, "CENTRAL_AMI_ORG": "zzz"})
    chosen = env_server({**url, "CENTRAL_AMI_ORG": "b", "CENTRAL_AMI_NAME": "pbx-b"})
    assert (chosen.organization.slug, chosen.name) == ("b", "pbx-b")
    Organization.objects.create(name="Demo", slug="demo")
    assert env_server(url).organization.slug == "demo"
    assert env_server({}) is None


OK_SECRET = "CENTRAL_TENANT_SECRET_PBX_OK"
MISSING = "CENTRAL_TENANT_SECRET_PBX_MISSING"


def test_targets_skip_disabled_simulated_and_secretless_servers(tenants, settings):
    settings.OUTBOUND_ALLOW = ("127.0.0.0/8",)  # the operator opened loopback for this test
    env = {OK_SECRET: "x"}
    ok = server_for(tenants["a"], name="ok", secret_env=OK_SECRET)
    server_for(tenants["a"], name="off", secret_env=OK_SECRET, enabled=False)
    server_for(tenants["a"], name="sim", secret_env=OK_SECRET, use_simulator=True)
    nosecret = server_for(tenants["b"], name="nosecret", secret_env=MISSING)
    targets, problems = targets_from_db(environ=env)
    assert [(t.name, t.secret, t.server.organization_id) for t in targets] == [("ok", "x", ok.organization_id)]
    assert problems == [f"server nosecret: environment variable {MISSING} with the AMI secret is not set "
                        "(tenant secrets need the CENTRAL_TENANT_SECRET_ prefix)"]
    nosecret.refresh_from_db()
    assert nosecret.status == "error" and MISSING in nosecret.status_detail
    assert [t.name for t in targets_from_db(include_simulator=True, environ=env)[0]] == ["ok", "sim"]


def test_link_never_reads_a_platform_variable_for_a_tenant_row(tenants, settings):
    """Before: a row naming SECRET_KEY made the link log in with the real key as Secret:.
    Now a name outside CENTRAL_TENANT_SECRET_ reads as unset, at connect time too (a row
    written before the API rule, or by the admin, cannot leak either)."""
    settings.OUTBOUND_ALLOW = ("127.0.0.0/8",)
    env = {"SECRET_KEY": "django-secret", "CENTRAL_VOICE_TOKEN": "voice-token"}
    for name in env:
        server_for(tenants["a"], name=name.lower(), secret_env=name)
    targets, problems = targets_from_db(environ=env)
    assert targets == []
    assert all("django-secret" not in p and "voice-token" not in p for p in problems)
    assert len(problems) == 2


@pytest.mark.parametrize("host", ["127.0.0.1", "169.254.169.254", "localhost", "10.0.0.5", "::1", "0.0.0.0"])
def test_link_refuses_internal_hosts_at_connect_time(tenants, host):
    server_for(tenants["a"], name="inside", host=host, secret_env=OK_SECRET)
    targets, problems = targets_from_db(environ={OK_SECRET: "x"})
    assert targets == [] and problems and "refused" in problems[0]


def test_platform_server_gets_the_platform_secret_only_at_its_own_address(tenants):
    env = {"CENTRAL_AMI_URL": "ami://central@10.0.0.5:5038", "CENTRAL_AMI_SECRET": "plat",
           "CENTRAL_AMI_ORG": tenants["a"].slug}
    targets, problems = targets_from_db(environ=env)
    assert [(t.host, t.secret) for t in targets] == [("10.0.0.5", "plat")], problems
    # A tenant row naming CENTRAL_AMI_SECRET elsewhere (e.g. written in the admin) gets nothing.
    server_for(tenants["b"], name="copy", host="200.160.2.3", secret_env="CENTRAL_AMI_SECRET")
    targets, problems = targets_from_db(environ=env)
    assert [t.secret for t in targets] == ["plat"]

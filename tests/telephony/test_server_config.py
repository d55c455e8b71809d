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


def test_targets_skip_disabled_simulated_and_secretless_servers(tenants):
    env = {"PBX_OK_SECRET": "x"}
    ok = server_for(tenants["a"], name="ok", secret_env="PBX_OK_SECRET")
    server_for(tenants["a"], name="off", secret_env="PBX_OK_SECRET", enabled=False)
    server_for(tenants["a"], name="sim", secret_env="PBX_OK_SECRET", use_simulator=True)
    nosecret = server_for(tenants["b"], name="nosecret", secret_env="PBX_MISSING")
    targets, problems = targets_from_db(environ=env)
    assert [(t.name, t.secret, t.server.organization_id) for t in targets] == [("ok", "x", ok.organization_id)]
    assert problems == ["server nosecret: environment variable PBX_MISSING with the AMI secret is not set"]
    nosecret.refresh_from_db()
    assert nosecret.status == "error" and "PBX_MISSING" in nosecret.status_detail
    assert [t.name for t in targets_from_db(include_simulator=True, environ=env)[0]] == ["ok", "sim"]

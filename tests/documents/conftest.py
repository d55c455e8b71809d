"""One real ``central web`` for the documents tests (started once for the package: the
browser test and the socket tests share it), with two organizations and an admin each."""

from __future__ import annotations

import pytest

from tests.support import free_port, migrated_env, run_central, start_central

SETUP = """
from django.contrib.auth import get_user_model
from central.core.models import Membership, Organization
U = get_user_model()
for slug, user in (("loja-a", "ana"), ("loja-b", "beto")):
    org = Organization.objects.create(name=slug.upper(), slug=slug)
    u = U.objects.create_user(user, password="senha-forte-123")
    Membership.objects.create(user=u, organization=org, role="admin")
"""


@pytest.fixture(scope="package")
def web(tmp_path_factory):
    base = tmp_path_factory.mktemp("documents-web")
    env = migrated_env(base / "data", CENTRAL_RATE_AUTH="1000/min", CENTRAL_LOGIN_FAILURES_CLIENT="1000/min",
                       CENTRAL_METRICS_OPEN="1")
    result = run_central(["manage", "shell", "-c", SETUP], env)
    assert result.returncode == 0, result.stderr
    port = free_port()
    proc = start_central(["web", "--port", str(port)], env, port, base / "web.log")
    yield proc
    proc.stop()



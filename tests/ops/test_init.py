"""`central init`: the first organization and its owner on a production install, and
`central pbx`'s messages before that (it blamed CENTRAL_AMI_ORG and an "unset"
CENTRAL_AMI_URL that was set)."""

from __future__ import annotations

import subprocess

import pytest

from tests.support import CENTRAL, migrated_env, run_central


def _central(args, env, stdin=""):
    return subprocess.run([CENTRAL, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)


def _check_login(env, username, password) -> bool:
    code = (f"from django.contrib.auth import get_user_model as g; u = g().objects.get(username={username!r}); "
            f"print(u.check_password({password!r}), u.is_superuser, "
            f"list(u.memberships.values_list('organization__slug', 'role', 'is_default')))")
    out = run_central(["manage", "shell", "-c", code], env)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_init_creates_the_first_organization_and_owner_once(tmp_path):
    from tests.support import central_env

    unmigrated = _central(["init", "--org", "X", "--admin", "x"], central_env(tmp_path / "empty"))
    assert unmigrated.returncode == 2
    assert "central migrate" in unmigrated.stderr

    env = migrated_env(tmp_path / "data")
    first = _central(["init", "--org", "Minha Empresa", "--admin", "maria", "--email", "maria@example.com"], env)
    assert first.returncode == 0, first.stderr
    assert "organization Minha Empresa (minha-empresa): created" in first.stdout
    password = first.stdout.split("password:", 1)[1].split()[0]
    assert len(password) >= 16
    assert _check_login(env, "maria", password) == "True True [('minha-empresa', 'owner', True)]"

    again = _central(["init", "--org", "Minha Empresa", "--admin", "maria"], env)
    assert again.returncode == 0, again.stderr
    assert "already initialized" in again.stdout and "password" not in again.stdout


@pytest.mark.django_db
def test_init_reads_a_password_from_stdin_and_refuses_a_weak_one():
    from django.contrib.auth import get_user_model
    from typer.testing import CliRunner

    from central.cli import app

    args = ["init", "--org", "Clínica", "--slug", "clinica", "--admin", "joao", "--password-stdin"]
    weak = CliRunner().invoke(app, args, input="123\n")
    assert weak.exit_code == 2
    assert not get_user_model().objects.filter(username="joao").exists()
    good = CliRunner().invoke(app, args, input="cavalo-bateria-grampo-certo\n")
    assert good.exit_code == 0, good.output
    assert "password:" not in good.output
    user = get_user_model().objects.get(username="joao")
    assert user.check_password("cavalo-bateria-grampo-certo")
    assert list(user.memberships.values_list("organization__slug", "role")) == [("clinica", "owner")]


@pytest.mark.django_db
def test_init_never_raises_an_existing_members_role(tenants):
    from central.core.firstrun import InitError, initialize

    with pytest.raises(InitError, match="viewer"):
        initialize("Empresa A", "vera", slug="empresa-a")
    assert tenants["vera"].memberships.get().role == "viewer"


def test_pbx_with_no_organization_points_at_init_not_at_unset_variables(tmp_path):
    env = migrated_env(tmp_path / "data", CENTRAL_AMI_URL="ami://central@127.0.0.1:5038",
                       CENTRAL_AMI_SECRET="x")
    result = run_central(["pbx"], env, timeout=60)
    assert result.returncode == 2
    assert "central init" in result.stderr
    assert "CENTRAL_AMI_ORG" not in result.stderr
    assert "or set CENTRAL_AMI_URL" not in result.stderr and "CENTRAL_AMI_URL is set" in result.stderr
    unset = run_central(["pbx"], {k: v for k, v in env.items() if not k.startswith("CENTRAL_AMI")}, timeout=60)
    assert unset.returncode == 2
    assert "set CENTRAL_AMI_URL" in unset.stderr

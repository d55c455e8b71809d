"""Data files are private (finding 10): data dir 0700, files 0600, uploads gone after import,
``central diagnose`` warns about an installation whose modes are still loose.

Real ``central`` processes on a fresh data directory, as an operator would run them.
"""

from __future__ import annotations

import stat
from pathlib import Path

from tests.support import central_env, migrated_env, run_central


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _ok(result) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def test_fresh_install_backup_and_import_files_are_private(tmp_path):
    data = tmp_path / "data"
    env = central_env(data)
    _ok(run_central(["migrate"], env))
    _ok(run_central(["manage", "shell", "-c", "from central.core.models import Organization as O; "
                     "O.objects.create(name='A', slug='a')"], env))
    assert mode(data) == 0o700
    assert mode(data / "secret_key") == 0o600
    if "DATABASE_URL" not in env:
        for name in ("central.sqlite3", "central.sqlite3-wal", "central.sqlite3-shm"):
            if (data / name).exists():
                assert mode(data / name) == 0o600, name
    _ok(run_central(["backup"], env))
    backups = list((data / "backups").iterdir())
    assert len(backups) == 1 and mode(backups[0]) == 0o600 and mode(data / "backups") == 0o700
    lista = tmp_path / "nao-ligar.csv"
    lista.write_text("telefone\n11987654321\nnao-e-telefone\n", encoding="utf-8")
    _ok(run_central(["import-dnc", str(lista), "--org", "a", "--quiet"], env))
    imports = data / "imports"
    left = sorted(p.name for p in imports.iterdir())
    assert len(left) == 1 and left[0].endswith(".erros.csv"), left  # the upload itself is gone
    assert mode(imports) == 0o700 and mode(imports / left[0]) == 0o600
    result = run_central(["diagnose"], env)
    line = next(x for x in result.stdout.splitlines() if "permissions" in x)
    assert "OK" in line and "private" in line, result.stdout


def test_uploads_kept_when_retention_says_so(tmp_path):
    data = tmp_path / "data"
    env = migrated_env(data, CENTRAL_IMPORT_KEEP_UPLOADS="1")  # a copy of a migrated database
    _ok(run_central(["manage", "shell", "-c", "from central.core.models import Organization as O; "
                     "O.objects.create(name='A', slug='a')"], env))
    lista = tmp_path / "nao-ligar.csv"
    lista.write_text("telefone\n11987654321\n", encoding="utf-8")
    _ok(run_central(["import-dnc", str(lista), "--org", "a", "--quiet"], env))
    kept = list((data / "imports").iterdir())
    assert len(kept) == 1 and kept[0].name.endswith("nao-ligar.csv") and mode(kept[0]) == 0o600


def test_diagnose_warns_about_loose_permissions(tmp_path):
    data = tmp_path / "data"
    # A copy of a migrated database (a migrate from scratch costs 15-30 s and is
    # test_fresh_install's subject, not this one's); `central migrate` has nothing left to
    # do and, like an operator's first command, writes the secret key.
    env = migrated_env(data)
    _ok(run_central(["migrate"], env))
    assert (data / "secret_key").exists()
    data.chmod(0o755)  # an installation made before the fix
    (data / "secret_key").chmod(0o644)
    result = run_central(["diagnose"], env)
    _ok(result)  # a warning, not a failure
    line = next(x for x in result.stdout.splitlines() if "permissions" in x)
    assert "WARN" in line and "secret_key (644)" in line and f"{data} (755)" in line, line
    assert f"chmod -R go-rwx {data}" in line

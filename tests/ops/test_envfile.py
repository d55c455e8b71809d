"""The environment file: systemd's EnvironmentFile= rules, read by `central --env-file`
(or CENTRAL_ENV_FILE) so the command line sees what the units see."""

from __future__ import annotations

import re

import pytest

from central.core.envfile import EnvFileError, load, parse
from tests.support import ROOT, migrated_env

EXAMPLE = ROOT / "deploy" / "central.env.example"
#: How the code reads a variable: os.environ / environ / env .get("X") or ["X"],
#: getenv / env_bool / env_int("X"), and constants named *_ENV = "X".
READS = re.compile(
    r"""(?:\b(?:environ|env)(?:\.get\(|\[)|\b(?:getenv|env_bool|env_int)\(|_ENV\s*=\s*)\s*["']([A-Z][A-Z0-9_]+)["']""")


@pytest.mark.backend_free
def test_comments_blank_lines_quotes_and_continuations_as_systemd_reads_them():
    text = (
        "# a comment\n"
        "   ; another comment\n"
        "\n"
        "A=1\n"
        "  B =  two words  \n"
        "C=\"quoted # not a comment \\\"x\\\" \\\\ end\"\n"
        "D='single $NOT_EXPANDED \\n'\n"
        "E=first \\\n"
        "  second\n"
        "F=\"multi\n"
        "line\"\n"
        "G=\n"
        "A=later wins\n"
    )
    assert parse(text) == [
        ("A", "1"), ("B", "two words"), ("C", 'quoted # not a comment "x" \\ end'),
        ("D", "single $NOT_EXPANDED \\n"), ("E", "first second"), ("F", "multi\nline"), ("G", ""),
        ("A", "later wins"),
    ]


@pytest.mark.backend_free
def test_a_line_systemd_would_reject_is_an_error_with_its_number():
    with pytest.raises(EnvFileError, match="line 2"):
        parse("A=1\nnot a variable\n")
    with pytest.raises(EnvFileError, match="line 1"):
        parse("1BAD=x\n")


@pytest.mark.backend_free
def test_the_real_environment_wins_and_a_later_line_wins(tmp_path):
    path = tmp_path / "central.env"
    path.write_text("X=file\nY=first\nY=second\n")
    environ = {"X": "real"}
    assert sorted(load(path, environ)) == ["Y"]
    assert environ == {"X": "real", "Y": "second"}


@pytest.mark.backend_free
def test_the_example_file_parses_and_names_every_variable_the_code_reads():
    """Compare deploy/central.env.example with every variable read in src/
    (commented-out lines count: they document an optional setting)."""
    text = EXAMPLE.read_text()
    values = dict(parse(text))
    assert values["CENTRAL_ENV"] == "production"
    for needed in ("CENTRAL_VOICE_TOKEN", "CENTRAL_METRICS_TOKEN", "CENTRAL_TRUSTED_PROXIES",
                   "CENTRAL_STATIC_ROOT", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
        assert needed in values, needed
    documented = set(re.findall(r"^[#\s]*([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    read = set()
    for path in (ROOT / "src" / "central").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        read |= set(READS.findall(path.read_text()))
    # Prefixes (CENTRAL_TENANT_SECRET_*) and the test/dev-only ones are not settings to write.
    ignore = {"CENTRAL_ENV_FILE", "DJANGO_SETTINGS_MODULE"}
    missing = sorted(read - documented - ignore)
    assert not missing, f"add these to deploy/central.env.example (commented if optional): {missing}"


def test_every_command_reads_the_env_file_like_the_units(tmp_path):
    """`central --env-file FILE …` and CENTRAL_ENV_FILE=FILE both read the file; the
    README's `env $(cat … | xargs)` broke on the comment lines."""
    import subprocess

    from tests.support import CENTRAL

    env = migrated_env(tmp_path / "data")
    settings_file = tmp_path / "central.env"
    moved = {"CENTRAL_DATA_DIR", "DATABASE_URL"}
    settings_file.write_text("# Central settings\n\n; a systemd comment\n"
                             + "".join(f"{k}={env[k]}\n" for k in moved if k in env))
    bare = {k: v for k, v in env.items() if k not in moved}
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()

    def central(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([CENTRAL, *args], env={**bare, **extra}, cwd=cwd,
                              capture_output=True, text=True, timeout=120)

    # Without the file: ./data in the working directory, an empty database.
    assert central("status").returncode == 1
    for result in (central("--env-file", str(settings_file), "status", "--json"),
                   central("status", "--json", CENTRAL_ENV_FILE=str(settings_file))):
        assert result.returncode == 0, result.stderr
        assert '"organizations": 0' in result.stdout
    broken = tmp_path / "broken.env"
    broken.write_text("# fine\nthis line has no equals sign\n")
    failed = central("--env-file", str(broken), "status")
    assert failed.returncode == 2
    assert "line 2" in failed.stderr


@pytest.mark.backend_free
def test_procfile_and_units_run_the_same_commands_on_the_same_host():
    """The Procfile said `web --host 0.0.0.0`, the unit 127.0.0.1: one rule now, the units'."""
    import shlex

    units = {}
    for path in (ROOT / "deploy" / "systemd").glob("*.service"):
        start = re.search(r"^ExecStart=(.+)$", path.read_text(), flags=re.M).group(1)
        argv = shlex.split(start)
        assert argv[0] == "/opt/central/.venv/bin/central", path.name
        units[path.name] = argv[1:]
    procfile = [shlex.split(line.split(":", 1)[1]) for line in (ROOT / "deploy" / "Procfile").read_text().splitlines()
                if line and not line.startswith("#")]
    for argv in procfile:
        assert argv[0] == "central"
        name = "central-web@.service" if argv[1] == "web" else (
            "central-dialer@.service" if argv[1] == "dialer" else f"central-{argv[1]}.service")
        want = [a.replace("%i", argv[-1]) for a in units[name]]
        assert argv[1:] == want, (argv, want)
    assert all("0.0.0.0" not in " ".join(a) for a in [*units.values(), *procfile])

"""deploy/prometheus and deploy/grafana checked with Debian's promtool (issue 16,
"Monitoring"): the configuration and the rules load, the rules' unit tests pass, the
scrape ports are the processes' own, the dashboards are what the generator writes."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import sys

import pytest
import yaml

from central.core.metrics import METRICS_PORTS, PENDING_METRICS
from tests.ops.monitoring import (
    CONFIG,
    EMBEDDED_CONFIG,
    GRAFANA_DIR,
    PROMETHEUS_DIR,
    ROOT,
    RULE_TESTS,
    RULES,
    names_used,
)

pytestmark = pytest.mark.backend_free

PROMTOOL = shutil.which("promtool") or "promtool"  # scripts/system-deps.sh installs prometheus


def promtool(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_promtool_checks_the_rules():
    res = promtool("check", "rules", str(RULES))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS: 20 rules found" in res.stdout


def test_promtool_unit_tests_of_the_rules_pass():
    files = sorted(p.name for p in PROMETHEUS_DIR.glob("*.test.yml"))
    assert files == ["central-rules-backups.test.yml", RULE_TESTS.name]
    res = promtool("test", "rules", *files, cwd=PROMETHEUS_DIR)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("SUCCESS") == 2


def test_promtool_catches_a_rule_unit_test_that_expects_the_wrong_alert(tmp_path):
    """The unit tests can fail: the same file with one expected label changed does."""
    shutil.copy(RULES, tmp_path / RULES.name)
    text = RULE_TESTS.read_text().replace('campaign: "7"}', 'campaign: "8"}')
    (tmp_path / RULE_TESTS.name).write_text(text)
    res = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert res.returncode != 0 and "CentralDialerAbandonOverCap" in res.stdout + res.stderr


@pytest.mark.parametrize("config", [CONFIG, EMBEDDED_CONFIG], ids=["layout", "embedded"])
def test_promtool_checks_the_config_with_its_rule_file(tmp_path, config):
    """The provided file as is, only the token file path pointed at a real file (promtool
    checks that it exists)."""
    token = tmp_path / "central-metrics-token"
    token.write_text(secrets.token_urlsafe(24))
    text = config.read_text()
    assert "/etc/prometheus/central-metrics-token" in text
    (tmp_path / "prometheus.yml").write_text(text.replace("/etc/prometheus/central-metrics-token", str(token)))
    shutil.copy(RULES, tmp_path / RULES.name)
    res = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS: 1 rule files found" in res.stdout


def test_every_process_kind_is_scraped_on_its_own_port():
    """One constant (central.core.metrics.METRICS_PORTS) and the scrape config agree."""
    jobs = {job["job_name"]: job for job in yaml.safe_load(CONFIG.read_text())["scrape_configs"]}
    def targets(kind: str) -> list[str]:
        return [t for c in jobs[f"central-{kind}"]["static_configs"] for t in c["targets"]]

    for kind, port in METRICS_PORTS.items():
        if kind != "dialer":
            assert targets(kind) == [f"127.0.0.1:{port}"], kind
    # The template units run two dialers and two web processes (docs/operations.md):
    # each is a target of its own, on the port its unit gives it.
    unit = (ROOT / "deploy" / "systemd" / "central-dialer@.service").read_text()
    pattern = re.search(r"^Environment=CENTRAL_METRICS_PORT=(\d+)%i$", unit, re.M).group(1)
    assert targets("dialer") == [f"127.0.0.1:{pattern}{n}" for n in (1, 2)]
    assert targets("web") == ["127.0.0.1:8001", "127.0.0.1:8002"]
    embedded = yaml.safe_load(EMBEDDED_CONFIG.read_text())["scrape_configs"]
    assert [t for c in embedded[0]["static_configs"] for t in c["targets"]] == ["127.0.0.1:8000"]  # `central up`
    assert "ExecStart=/opt/central/.venv/bin/central web --host 127.0.0.1 --port %i" in (
        ROOT / "deploy" / "systemd" / "central-web@.service").read_text()
    for name, job in jobs.items():
        if name.startswith("central-"):
            assert job["authorization"]["credentials_file"] == "/etc/prometheus/central-metrics-token", name


def test_dashboards_are_what_the_generator_writes(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "grafana_dashboards.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    committed = sorted(p.name for p in (GRAFANA_DIR / "dashboards").glob("*.json"))
    assert committed == sorted(p.name for p in tmp_path.glob("*.json"))
    assert committed == sorted(f"{d}.json" for d in
                               ("overview", "dialer", "telephony", "voice", "messaging", "documents", "system"))
    for name in committed:
        assert (GRAFANA_DIR / "dashboards" / name).read_text() == (tmp_path / name).read_text(), (
            f"{name}: run python scripts/grafana_dashboards.py")


def test_dashboards_use_the_provisioned_datasource_and_unique_ids():
    datasource = yaml.safe_load((GRAFANA_DIR / "provisioning" / "datasources" / "central.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    provider = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" / "central.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/central"
    uids = set()
    for path in (GRAFANA_DIR / "dashboards").glob("*.json"):
        board = json.loads(path.read_text())
        uids.add(board["uid"])
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == uid, (path.name, panel["title"])
            assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel["title"]
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (path.name, panel["title"])
    assert len(uids) == 7


def test_pending_metric_names_are_ones_the_rules_or_dashboards_use():
    """PENDING_METRICS is the one list of names not required in /metrics yet: each entry
    must be in use (otherwise it is stale), and says whose work it waits for."""
    used = names_used()
    for name, why in PENDING_METRICS.items():
        assert name in used, f"{name} is listed as pending but nothing queries it"
        assert why, name

"""What the monitoring tests share: the files in deploy/, the metric names they use, and
a Prometheus configuration rewritten for a test's ports."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
EMBEDDED_CONFIG = PROMETHEUS_DIR / "prometheus-embedded.yml"
RULES = PROMETHEUS_DIR / "central-rules.yml"
RULE_TESTS = PROMETHEUS_DIR / "central-rules.test.yml"

#: Metric names a query may use that no Central process serves: Prometheus makes `up`.
NOT_FROM_CENTRAL = {"up"}
#: Served only where Redis is configured (the shared cache's own metrics, core/cache.py):
#: required when the test run has Redis, not in the embedded (SQLite, no Redis) pass.
NEEDS_REDIS = {"central_cache_redis_up", "central_cache_fallback_total"}
# Metric identifiers in PromQL: Central's own, and the client library's process_* ones.
_NAME = re.compile(r"\b((?:central|process|python)_[a-z0-9_]+|up)\b(?!\s*\()")


def expressions() -> dict[str, str]:
    """Every PromQL expression of the alert rules and the dashboards, by where it is."""
    out: dict[str, str] = {}
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            out[f"rule {rule['alert']}"] = rule["expr"]
    for path in sorted((GRAFANA_DIR / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                out[f"dashboard {path.stem} / {panel['title']} / {target['refId']}"] = target["expr"]
    return out


def names_used() -> dict[str, set[str]]:
    """Metric name -> the rules and panels that query it."""
    used: dict[str, set[str]] = {}
    for where, expr in expressions().items():
        for name in _NAME.findall(expr):
            used.setdefault(name, set()).add(where)
    return used


def exposed_names(text: str) -> set[str]:
    """Names a scrape of ``text`` offers a query: every sample name, and for a family
    declared without samples yet (a labelled metric nothing has touched) the names its
    type gives (``_bucket``/``_sum``/``_count`` of a histogram)."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            names.add(name)
            if kind == "histogram":
                names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def config_for_test(targets: dict[str, list[str]], token_file: Path, interval: str = "1s") -> dict:
    """deploy/prometheus/prometheus.yml, plus the ``central-up`` job of
    prometheus-embedded.yml, with this test's targets per job (a job not in ``targets`` is
    dropped), its token file and a short interval; nothing else changes."""
    config = copy.deepcopy(yaml.safe_load(CONFIG.read_text()))
    config["global"]["scrape_interval"] = interval
    config["global"]["evaluation_interval"] = interval
    embedded = yaml.safe_load(EMBEDDED_CONFIG.read_text())["scrape_configs"]
    jobs = []
    for job in config["scrape_configs"] + embedded:
        if job["job_name"] not in targets:
            continue
        job["static_configs"] = [{"targets": targets[job["job_name"]]}]
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(token_file)
        jobs.append(job)
    config["scrape_configs"] = jobs
    return config

"""Write Central's Grafana dashboards (deploy/grafana/dashboards/*.json).

The JSON files are generated from the short panel lists below so that seven dashboards
stay consistent (same datasource, layout, units) and reviewable. Edit this file, then run
``python scripts/grafana_dashboards.py``; tests/ops/test_monitoring.py fails when the
committed JSON differs from what this script writes, and checks that every metric a panel
queries exists in a running Central's /metrics (docs/operations.md, "Monitoring").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "central-prometheus"}  # provisioning/datasources/central.yml

# (title, kind, unit, [(expr, legend), ...]); kind: "stat", "timeseries" or "table".
Panel = tuple[str, str, str, list[tuple[str, str]]]

DASHBOARDS: dict[str, tuple[str, list[Panel]]] = {
    "overview": ("Central: overview", [
        ("Processes up", "stat", "none", [('sum by (job) (up{job=~"central-.*"})', "{{job}}")]),
        ("Calls in progress", "stat", "none", [("sum(central_telephony_live_calls)", "calls")]),
        ("Agents logged in (dialer queues)", "stat", "none",
         [('sum(central_dialer_agents{state="logged"})', "agents")]),
        ("Voice calls in progress", "stat", "none", [("sum(central_voice_sessions)", "voice")]),
        ("Attempts per minute by result", "timeseries", "none",
         [("sum by (result) (rate(central_dialer_results_total[5m])) * 60", "{{result}}")]),
        ("HTTP requests per second by status", "timeseries", "reqps",
         [("sum by (status) (rate(central_http_requests_total[5m]))", "{{status}}")]),
        ("AMI connections", "timeseries", "none",
         [("max without (instance, job) (central_telephony_connected)", "pbx link {{server}}"),
          ("max without (instance, job) (central_dialer_ami_connected)", "dialer {{server}}")]),
        ("Heartbeat age per process", "table", "s",
         [("max without (instance, job) (central_process_heartbeat_age_seconds)", "{{process}}")]),
    ]),
    "dialer": ("Central: dialer", [
        ("Originates per minute", "timeseries", "none",
         [("sum by (campaign) (rate(central_dialer_originates_total[5m])) * 60", "campaign {{campaign}}"),
          ("sum by (campaign) (rate(central_dialer_originates_not_sent_total[5m])) * 60",
           "not sent {{campaign}}")]),
        ("Attempts by result (per minute)", "timeseries", "none",
         [("sum by (result) (rate(central_dialer_results_total[5m])) * 60", "{{result}}")]),
        ("Abandonment (1 h) and cap", "timeseries", "percentunit",
         [('max by (campaign) (central_dialer_abandon_rate{window="1h"})', "abandoned {{campaign}}"),
          ("max by (campaign) (central_dialer_abandon_cap)", "cap {{campaign}}")]),
        ("Answered calls (1 h)", "timeseries", "none",
         [('max by (campaign) (central_dialer_answered{window="1h"})', "{{campaign}}")]),
        ("Dial level (pacing)", "timeseries", "none",
         [("max by (campaign) (central_dialer_dial_level)", "{{campaign}}")]),
        ("Agents by state", "timeseries", "none",
         [("sum by (state) (central_dialer_agents)", "{{state}}")]),
        ("Calls in progress", "timeseries", "none",
         [("sum by (campaign) (central_dialer_calls_in_progress)", "{{campaign}}")]),
        ("Decision to Originate (p50, p95)", "timeseries", "s",
         [("histogram_quantile(0.5, sum by (le) (rate(central_dialer_decision_to_originate_seconds_bucket[5m])))",
           "p50"),
          ("histogram_quantile(0.95, sum by (le) (rate(central_dialer_decision_to_originate_seconds_bucket[5m])))",
           "p95")]),
        ("Short calls today (Anatel) and alarm", "timeseries", "none",
         [("max by (campaign) (central_dialer_short_calls_today)", "short {{campaign}}"),
          ("max by (campaign) (central_dialer_short_call_alarm)", "alarm {{campaign}}"),
          ("sum by (campaign) (increase(central_dialer_short_call_guard_total[1h]))", "guard message {{campaign}}"),
          ("sum by (campaign) (increase(central_dialer_short_calls_total[1h]))", "short (1 h) {{campaign}}")]),
        ("Reconciled attempts and leases", "timeseries", "none",
         [("sum by (found) (increase(central_dialer_reconciled_total[1h]))", "reconciled found={{found}}"),
          ("sum by (event) (increase(central_dialer_lease_changes_total[1h]))", "lease {{event}}")]),
        ("Dialer AMI connection", "timeseries", "none",
         [("central_dialer_ami_connected", "{{instance}} {{server}}")]),
    ]),
    "telephony": ("Central: telephony (PBX link)", [
        ("AMI logged in", "stat", "none", [("central_telephony_connected", "{{server}}")]),
        ("Calls in progress", "timeseries", "none", [("central_telephony_live_calls", "{{server}}")]),
        ("Extensions tracked", "timeseries", "none", [("central_telephony_extensions", "{{server}}")]),
        ("AMI events per second", "timeseries", "none",
         [("sum by (server) (rate(central_telephony_events_total[5m]))", "{{server}}")]),
        ("Call records per minute by disposition", "timeseries", "none",
         [("sum by (disposition) (rate(central_telephony_cdrs_total[5m])) * 60", "{{disposition}}")]),
        ("Problems (per hour)", "timeseries", "none",
         [("sum by (reason) (increase(central_telephony_bad_events_total[1h]))", "bad event {{reason}}"),
          ("sum by (server) (increase(central_telephony_store_errors_total[1h]))", "store error {{server}}"),
          ("sum by (server) (increase(central_telephony_resync_errors_total[1h]))", "resync error {{server}}"),
          ("sum by (server) (increase(central_telephony_resyncs_total[1h]))", "resync {{server}}"),
          ("sum by (server) (increase(central_telephony_extension_updates_total[1h]))",
           "extension writes {{server}}")]),
        ("AMI client (per hour)", "timeseries", "none",
         [("sum by (server) (increase(central_ami_reconnects_total[1h]))", "reconnects {{server}}"),
          ("sum by (server, kind) (increase(central_ami_protocol_errors_total[1h]))", "protocol {{server}} {{kind}}"),
          ("sum by (server) (increase(central_ami_events_dropped_total[1h]))", "events dropped {{server}}"),
          ("sum by (server) (increase(central_ami_listener_errors_total[1h]))", "listener errors {{server}}"),
          ("sum by (server, action) (increase(central_ami_actions_not_confirmed_total[1h]))",
           "not confirmed {{server}} {{action}}")]),
    ]),
    "voice": ("Central: voice attendant", [
        ("Calls in progress by leg", "timeseries", "none",
         [("sum by (leg) (central_voice_sessions)", "{{leg}}")]),
        ("Calls per minute", "timeseries", "none",
         [("sum by (extension) (rate(central_voice_calls_total[5m])) * 60", "ramal {{extension}}")]),
        ("Turn latency (speech end to first audio byte)", "timeseries", "s",
         [("histogram_quantile(0.5, sum by (le) (rate(central_voice_turn_latency_seconds_bucket[5m])))", "p50"),
          ("histogram_quantile(0.95, sum by (le) (rate(central_voice_turn_latency_seconds_bucket[5m])))", "p95")]),
        ("Listeners up", "table", "none",
         [("central_voice_listener_up", "{{extension}} {{listener}}"),
          ("central_voice_extension_failed", "failed {{extension}}")]),
        ("AudioSocket problems (per hour)", "timeseries", "none",
         [("sum by (extension) (increase(central_voice_protocol_errors_total[1h]))", "protocol {{extension}}"),
          ("sum(increase(central_voice_frames_dropped_total[1h]))", "frames dropped")]),
    ]),
    "messaging": ("Central: messaging (WhatsApp)", [
        ("Webhook deliveries per minute by outcome", "timeseries", "none",
         [("sum by (outcome) (rate(central_webhook_deliveries_total[5m])) * 60", "{{outcome}}")]),
        ("Webhook processing lag", "timeseries", "s",
         [("max by (channel) (central_webhook_processing_lag_seconds)", "{{channel}}")]),
    ]),
    "documents": ("Central: documents and site agents", [
        ("Site agents online", "stat", "none",
         [("sum(max without (instance, job) (central_documents_agents_online))", "online")]),
        ("Site agents offline", "stat", "none",
         [("sum(max without (instance, job) (central_documents_agents_offline))", "offline")]),
        ("Longest offline agent per organization", "table", "s",
         [("max by (organization) (central_documents_agent_offline_longest_seconds)", "{{organization}}")]),
        ("Cached documents", "timeseries", "bytes",
         [("max by (organization) (central_documents_cache_bytes)", "{{organization}}")]),
        ("Transfers per hour by outcome", "timeseries", "none",
         [("sum by (outcome) (increase(central_documents_transfers_total[1h]))", "{{outcome}}")]),
        ("Requests and downloads per hour", "timeseries", "none",
         [("sum by (cache) (increase(central_documents_requests_total[1h]))", "request, cache {{cache}}"),
          ("sum by (result) (increase(central_documents_downloads_total[1h]))", "download {{result}}")]),
        ("Uploads from site agents", "timeseries", "none",
         [("sum(rate(central_documents_upload_bytes_total[5m]))", "bytes/s"),
          ("sum(increase(central_documents_chunks_rejected_total[1h]))", "chunks rejected per hour")]),
    ]),
    "system": ("Central: system", [
        ("Targets up", "table", "none", [('up{job=~"central-.*"}', "{{job}} {{instance}}")]),
        ("Processes by kind and version", "table", "none",
         [("sum by (kind, version) (central_process_info)", "{{kind}} {{version}}")]),
        ("Heartbeat age", "timeseries", "s",
         [("max without (instance, job) (central_process_heartbeat_age_seconds)", "{{process}}")]),
        ("Free disk", "timeseries", "percentunit",
         [("max without (instance, job) (central_disk_free_bytes / central_disk_size_bytes)", "{{path}}"),
          ("max without (instance, job) (central_disk_min_free_bytes / central_disk_size_bytes)",
           "minimum {{path}}")]),
        ("HTTP 5xx share", "timeseries", "percentunit",
         [("sum by (job) (rate(central_http_errors_total[5m])) / sum by (job) (rate(central_http_requests_total[5m]))",
           "{{job}}")]),
        ("HTTP latency p95 by route", "timeseries", "s",
         [("histogram_quantile(0.95, sum by (le, route) (rate(central_http_request_duration_seconds_bucket[5m])))",
           "{{route}}")]),
        ("Resident memory per process", "timeseries", "bytes",
         [("process_resident_memory_bytes{job=~\"central-.*\"}", "{{job}} {{instance}}")]),
        ("CPU per process", "timeseries", "percentunit",
         [("rate(process_cpu_seconds_total{job=~\"central-.*\"}[5m])", "{{job}} {{instance}}")]),
        ("Last backup and restore test (age)", "stat", "s",
         [('time() - max without (instance, job) (central_backup_last_run_timestamp_seconds)', "{{kind}}")]),
        ("Last backup and restore test worked", "stat", "none",
         [("max without (instance, job) (central_backup_last_run_ok)", "{{kind}}")]),
        ("Backup size", "timeseries", "bytes",
         [("max without (instance, job) (central_backup_last_size_bytes)", "backup")]),
        ("Redis reachable (shared cache, rate limits)", "timeseries", "none",
         [("min by (job, instance) (central_cache_redis_up)", "{{job}} {{instance}}"),
          ("sum by (operation) (rate(central_cache_fallback_total[5m]))", "in-process fallback {{operation}}/s")]),
        ("Supervised components of central up", "timeseries", "none",
         [("central_component_running", "running {{component}}"),
          ("sum by (component) (increase(central_component_crashes_total[1h]))", "crashes/h {{component}}")]),
        ("Rejected input and jobs received (per hour)", "timeseries", "none",
         [("sum by (source, reason) (increase(central_bad_input_total[1h]))", "{{source}} {{reason}}"),
          ("sum by (task) (increase(central_worker_tasks_received_total[1h]))", "job {{task}}")]),
    ]),
}


def panel(index: int, pos: dict, title: str, kind: str, unit: str, targets: list[tuple[str, str]]) -> dict:
    return {
        "id": index + 1,
        "title": title,
        "type": kind,
        "datasource": DATASOURCE,
        "gridPos": pos,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend,
             **({"format": "table", "instant": True} if kind == "table" else {})}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def layout(panels: list[Panel]) -> list[dict]:
    """Left to right, top to bottom on Grafana's 24-column grid: stats 6 wide, the rest 12."""
    x = y = row_height = 0
    out = []
    for _title, kind, _unit, _targets in panels:
        width, height = (6, 4) if kind == "stat" else (12, 8)
        if x + width > 24:
            x, y, row_height = 0, y + row_height, 0
        out.append({"h": height, "w": width, "x": x, "y": y})
        x, row_height = x + width, max(row_height, height)
    return out


def dashboard(slug: str, title: str, panels: list[Panel]) -> dict:
    return {
        "uid": f"central-{slug}",
        "title": title,
        "tags": ["central"],
        "timezone": "browser",
        "schemaVersion": 38,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "links": [{"type": "dashboards", "tags": ["central"], "asDropdown": True, "title": "Central"}],
        "panels": [panel(i, pos, *p) for i, (p, pos) in enumerate(zip(panels, layout(panels), strict=True))],
    }


def render() -> dict[str, str]:
    return {f"{slug}.json": json.dumps(dashboard(slug, title, panels), indent=2, ensure_ascii=False) + "\n"
            for slug, (title, panels) in DASHBOARDS.items()}


def main(out: Path = OUT) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (out / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))

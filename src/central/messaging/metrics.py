"""Prometheus metrics of the WhatsApp channel (default registry, rendered by /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

WEBHOOK_DELIVERIES = Counter(
    "central_whatsapp_webhook_deliveries_total",
    "Webhook POSTs by answer: accepted (200, stored), ignored (200, nothing for us), unsigned (401), "
    "bad_signature (403), malformed (400), too_large (413)",
    ["result"],
)
SIGNATURE_FAILURES = Counter(
    "central_whatsapp_signature_failures_total",
    "Webhook deliveries refused for their X-Hub-Signature-256: missing (401) or mismatch (403)",
    ["reason"],
)
EVENTS_IGNORED = Counter(
    "central_whatsapp_webhook_events_ignored_total",
    "Messages/statuses of signed deliveries not stored: unknown_number, secret_mismatch, other_field",
    ["reason"],
)
VERIFICATIONS = Counter(
    "central_whatsapp_webhook_verifications_total", "GET verification handshakes by result", ["result"])
EVENTS_PROCESSED = Counter(
    "central_whatsapp_events_processed_total",
    "Webhook events processed by the background job: kind message/status, result applied/duplicate/"
    "waiting/ignored/error",
    ["kind", "result"],
)
PROCESSING_LAG = Histogram(
    "central_whatsapp_processing_lag_seconds",
    "From the durable insert of a webhook event to the commit of its effects",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
OUTBOUND = Counter(
    "central_whatsapp_outbound_total",
    "Outbound Cloud API calls by result: sent, retry (transient/rate limit), failed (permanent), canceled",
    ["result"],
)

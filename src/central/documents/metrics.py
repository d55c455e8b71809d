"""Prometheus metrics of the site agents and the documents cache (rendered by ``/metrics``).

The gauges are read from the database when a web process's ``/metrics`` is scraped
(:func:`documents_gauges`, a cluster-wide collector), not kept in one web process's
memory: agents connect to whichever web process the load balancer picks, and every web
process must answer the same (rules take ``max without (instance)``). They are per organization (slug
label, bounded by the number of tenants) so an alert rule can name the customer whose
agent is down, e.g. ``central_documents_agent_offline_longest_seconds > 1800``
(docs/site-agent.md, "Alerts").
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric

from central.core.metrics import cluster_collector

TRANSFERS = Counter("central_documents_transfers_total",
                    "Document transfers by outcome (completed, rejected, failed, expired)", ["outcome"])
REQUESTS = Counter("central_documents_requests_total", "Document requests by cache result (hit, miss)", ["cache"])
DOWNLOADS = Counter("central_documents_downloads_total", "Document downloads by result", ["result"])
BYTES_RECEIVED = Counter("central_documents_upload_bytes_total", "Bytes received from site agents")
CHUNKS_REJECTED = Counter("central_documents_chunks_rejected_total", "Upload chunks with a bad checksum")


def gauge_values() -> dict[str, dict[str, float]]:
    """metric name -> {organization slug: value}, from the database."""
    from django.db.models import Count, Min, Sum
    from django.utils import timezone

    from central.core.models import Organization

    from .models import Agent, CachedFile

    now = timezone.now()
    slugs = dict(Organization.objects.values_list("pk", "slug"))
    online: dict[str, float] = {}
    offline: dict[str, float] = {}
    for org_id, state, n in Agent.objects.values_list("organization_id", "state").annotate(n=Count("id")).order_by():
        slug = slugs.get(org_id, str(org_id))
        online.setdefault(slug, 0)
        offline.setdefault(slug, 0)
        (online if state == Agent.State.ONLINE else offline)[slug] += n
    longest = {slug: 0.0 for slug in online}
    for org_id, since in (Agent.objects.filter(state=Agent.State.OFFLINE, offline_since__isnull=False)
                          .values_list("organization_id").annotate(m=Min("offline_since")).order_by()):
        longest[slugs.get(org_id, str(org_id))] = max(0.0, (now - since).total_seconds())
    cache = {slugs.get(org_id, str(org_id)): float(b or 0) for org_id, b in
             CachedFile.objects.filter(removed_at__isnull=True, expires_at__gt=now)
             .values_list("organization_id").annotate(b=Sum("size")).order_by()}
    return {
        "central_documents_agents_online": online,
        "central_documents_agents_offline": offline,
        "central_documents_agent_offline_longest_seconds": longest,
        "central_documents_cache_bytes": cache,
    }


HELP = {
    "central_documents_agents_online": "Site agents connected now",
    "central_documents_agents_offline": "Site agents not connected",
    "central_documents_agent_offline_longest_seconds":
        "Seconds the longest-offline site agent of the organization has been offline (0: none)",
    "central_documents_cache_bytes": "Bytes of valid cached documents",
}


@cluster_collector
def documents_gauges() -> Iterable[Metric]:
    """The gauges, from the database, at each scrape of a web process (cluster-wide figures:
    ``central.core.metrics.CLUSTER_REGISTRY``, the same value from every web process)."""
    for name, per_org in gauge_values().items():
        family = GaugeMetricFamily(name, HELP[name], labels=["organization"])
        for slug, value in sorted(per_org.items()):
            family.add_metric([slug], value)
        yield family

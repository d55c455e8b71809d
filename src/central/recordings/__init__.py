"""Call recordings: MixMonitor files indexed against their call records, served to the
tenant with range requests, deleted by the tenant's retention policy (docs/recordings.md)."""

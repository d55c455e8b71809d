"""Test URLconf: the project's URLs plus the dialer engine's live/planner endpoints (the
lead mounts ``central.dialer.api_live_urls`` under /api/v1/dialer/ in central.urls)."""

from django.urls import include, path

urlpatterns = [
    path("api/v1/dialer/", include("central.dialer.api_live_urls")),
    path("", include("central.urls")),
]

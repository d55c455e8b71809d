"""Mounted at /api/v1/voice/ by central.urls."""

from central.voice.api import live_urlpatterns, router

urlpatterns = [*live_urlpatterns, *router.urls]

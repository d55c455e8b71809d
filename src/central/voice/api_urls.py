"""Mounted at /api/v1/voice/ by central.urls."""

from central.voice.api import router

urlpatterns = router.urls

"""Mounted at /api/v1/recordings/ by central.urls."""

from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("", api.RecordingViewSet, basename="recording")

urlpatterns = router.urls

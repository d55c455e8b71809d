"""Mounted at /api/v1/agents/ by central.urls."""

from rest_framework.routers import DefaultRouter

from . import api

router = DefaultRouter()
router.register("agents", api.AgentViewSet, basename="agents-agent")
router.register("interfaces", api.AgentInterfaceViewSet, basename="agents-interface")
router.register("pause-codes", api.PauseCodeViewSet, basename="agents-pausecode")

urlpatterns = router.urls

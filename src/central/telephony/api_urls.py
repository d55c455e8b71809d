"""Mounted at /api/v1/telephony/ by central.urls."""

from rest_framework.routers import DefaultRouter

from . import api

router = DefaultRouter()
router.register("servers", api.AsteriskServerViewSet, basename="telephony-server")
router.register("extensions", api.ExtensionViewSet, basename="telephony-extension")
router.register("queue-members", api.QueueMemberViewSet, basename="telephony-queuemember")
router.register("live-calls", api.LiveCallViewSet, basename="telephony-livecall")
router.register("calls", api.CallRecordViewSet, basename="telephony-call")

urlpatterns = router.urls

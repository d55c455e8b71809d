"""Mounted at /api/v1/dialer/ by central.urls.

Custom actions are mapped explicitly (unnamed) next to the router's CRUD routes; see the
module docstring of :mod:`central.dialer.api` for why.
"""

from django.urls import path
from rest_framework.parsers import MultiPartParser
from rest_framework.routers import DefaultRouter

from . import api

router = DefaultRouter()
router.register("campaigns", api.CampaignViewSet, basename="dialer-campaign")
router.register("contacts", api.ContactViewSet, basename="dialer-contact")
router.register("dnc", api.DoNotCallViewSet, basename="dialer-dnc")
router.register("attempts", api.AttemptViewSet, basename="dialer-attempt")
router.register("callbacks", api.CallbackViewSet, basename="dialer-callback")
router.register("imports", api.ImportJobViewSet, basename="dialer-import")

_actions = [
    path(f"campaigns/<int:pk>/{name}/", api.CampaignViewSet.as_view({"post": name}))
    for name in ("start", "pause", "resume", "finish")
]

urlpatterns = [
    *_actions,
    path("campaigns/<int:pk>/import/",
         api.CampaignViewSet.as_view({"post": "import_contacts"}, parser_classes=[MultiPartParser])),
    path("campaigns/<int:pk>/export/", api.CampaignViewSet.as_view({"get": "export"})),
    path("dnc/import/", api.DoNotCallViewSet.as_view({"post": "import_file"}, parser_classes=[MultiPartParser])),
    path("imports/<int:pk>/errors/", api.ImportJobViewSet.as_view({"get": "errors"})),
    *router.urls,
]

"""Mounted at /api/v1/messaging/ by central.urls.

Object actions are mapped explicitly (unnamed) next to the router's routes, as in the
dialer (``central.dialer.api_urls``): they go through the viewset's scoped ``get_object``.
"""

from django.urls import path
from rest_framework.routers import DefaultRouter

from . import api

router = DefaultRouter()
router.register("numbers", api.WhatsAppNumberViewSet, basename="messaging-number")
router.register("contacts", api.ContactViewSet, basename="messaging-contact")
router.register("conversations", api.ConversationViewSet, basename="messaging-conversation")
router.register("messages", api.MessageViewSet, basename="messaging-message")
router.register("templates", api.TemplateViewSet, basename="messaging-template")
router.register("canned-responses", api.CannedResponseViewSet, basename="messaging-canned")
router.register("labels", api.LabelViewSet, basename="messaging-label")

_conversation_posts = [
    path(f"conversations/<int:pk>/{url}/", api.ConversationViewSet.as_view({"post": name}))
    for url, name in (("send", "send"), ("assign", "assign"), ("resolve", "resolve"), ("hand-off", "hand_off"),
                      ("read", "read"), ("notes", "note"), ("labels", "labels"))
]

urlpatterns = [
    *_conversation_posts,
    path("conversations/<int:pk>/messages/", api.ConversationViewSet.as_view({"get": "messages"})),
    path("contacts/<int:pk>/opt-in/", api.ContactViewSet.as_view({"post": "opt_in"})),
    path("contacts/<int:pk>/opt-out/", api.ContactViewSet.as_view({"post": "opt_out"})),
    path("contacts/<int:pk>/history/", api.ContactViewSet.as_view({"get": "history"})),
    path("messages/<int:pk>/media/", api.MessageViewSet.as_view({"get": "media"})),
    path("numbers/<int:pk>/sync-templates/", api.WhatsAppNumberViewSet.as_view({"post": "sync_templates"})),
    *router.urls,
]

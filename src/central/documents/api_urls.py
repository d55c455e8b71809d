"""Mounted at /api/v1/documents/ by central.urls (the protocol's ``API_ROOT``)."""

from central.documents.api import agent_urlpatterns, router

urlpatterns = [*agent_urlpatterns, *router.urls]

"""Documents pages, mounted at /documents/."""

from django.urls import path

from . import views

app_name = "documents"

urlpatterns = [
    path("", views.documents, name="list"),
    path("<int:pk>/request/", views.request_pdf, name="request"),
    path("<int:pk>/download/", views.download, name="download"),
    path("monitor/", views.monitor, name="monitor"),
    path("monitor/data/", views.monitor_json, name="monitor-data"),
    path("agents/<int:pk>/", views.agent_detail, name="agent"),
    path("agents/<int:pk>/live/", views.agent_live, name="agent-live"),
    path("agents/<int:pk>/revoke/", views.revoke, name="revoke"),
]

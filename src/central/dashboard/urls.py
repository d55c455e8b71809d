from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("wallboard/", views.wallboard, name="wallboard"),
    path("org/switch/", views.switch_organization, name="switch_org"),
    path("status.json", views.status_json, name="status_json"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("system/", views.system, name="system"),
    path("system/logs/", views.logs, name="logs"),
]

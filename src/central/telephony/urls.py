"""Telephony pages, mounted at /telephony/."""

from django.urls import path

from . import views

app_name = "telephony"

urlpatterns = [
    path("extensions/", views.extensions, name="extensions"),
    path("calls/", views.calls, name="calls"),
    path("calls/<int:pk>/", views.call_detail, name="call_detail"),
    path("calls/export.<str:fmt>", views.calls_export, name="calls_export"),
]

"""Telephony pages, mounted at /telephony/."""

from django.urls import path

from . import views

app_name = "telephony"

urlpatterns = [
    path("extensions/", views.extensions, name="extensions"),
    path("calls/", views.calls, name="calls"),
]

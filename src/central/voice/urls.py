"""Voice pages, mounted at /voice/."""

from django.urls import path

from . import views

app_name = "voice"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("refresh/", views.refresh, name="refresh"),
    path("test-call/", views.test_call, name="test_call"),
]

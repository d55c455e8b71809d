"""Recording pages, mounted at /recordings/."""

from django.urls import path

from . import views

app_name = "recordings"

urlpatterns = [
    path("<int:pk>/audio", views.audio, name="audio"),
]

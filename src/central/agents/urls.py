"""Agents pages, mounted at /agents/."""

from django.urls import path

from . import views

app_name = "agents"

urlpatterns = [
    path("team/", views.team_page, name="team"),
]

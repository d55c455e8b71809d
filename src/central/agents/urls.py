"""Agents pages, mounted at /agents/."""

from django.urls import path

from . import desk_views, views

app_name = "agents"

urlpatterns = [
    path("", views.board_page, name="board"),
    path("board.json", views.board_json, name="board_json"),
    path("members/<int:pk>/<str:action>/", views.member_control, name="member_control"),
    path("team/", views.team_page, name="team"),
    # The agent's page (docs/agents.md, "Agent's page").
    path("desk/", desk_views.desk_page, name="desk"),
    path("desk/disposition/", desk_views.desk_disposition, name="desk_disposition"),
    path("desk/preview/", desk_views.desk_preview, name="desk_preview"),
    path("desk/dial/", desk_views.desk_dial, name="desk_dial"),
    path("desk/queue/", desk_views.desk_queue, name="desk_queue"),
    path("desk/recent/", desk_views.desk_recent, name="desk_recent"),
]

"""WhatsApp pages, mounted at /messaging/."""

from django.urls import path

from . import views

app_name = "messaging"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("c/<int:pk>/", views.inbox, name="conversation"),
    path("c/<int:pk>/<str:action>/", views.action, name="action"),
    path("media/<int:pk>/", views.media, name="media"),
    path("people/<str:digits>/", views.person, name="person"),
    path("people/<str:digits>/start/", views.person_start, name="person_start"),
    path("settings/", views.settings_page, name="settings"),
    path("phone/", views.phone, name="phone"),
    path("phone/send/", views.phone_send, name="phone_send"),
]

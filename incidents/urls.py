from __future__ import annotations

from django.urls import path

from incidents import views

urlpatterns = [
    path("", views.incident_feed, name="home"),
    path("incidents/", views.incident_feed, name="incident-feed"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident-detail"),
]

from __future__ import annotations

from django.urls import include, path

from incidents import views

urlpatterns = [
    path("", views.incident_feed, name="home"),
    path("incidents/", views.incident_feed, name="incident-feed"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident-detail"),
    path("incidents/<int:pk>/timeline/", views.incident_timeline, name="incident-timeline"),
    path("incidents/<int:pk>/panels/", views.incident_panels, name="incident-panels"),
    path("incidents/<int:pk>/acknowledge/", views.incident_acknowledge, name="incident-acknowledge"),
    path("incidents/<int:pk>/transition/", views.incident_transition, name="incident-transition"),
    path("incidents/<int:pk>/command/", views.incident_take_command, name="incident-take-command"),
    path("incidents/<int:pk>/comment/", views.incident_comment, name="incident-comment"),
    path("insights/", views.insights, name="insights"),
    # The detection pages (alerts, rules) live in the ui app; the root urlconf includes only this module.
    path("", include("ui.urls")),
]

from __future__ import annotations

from django.urls import path

from ui import views

urlpatterns = [
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/badge/", views.alerts_badge, name="alerts-badge"),
    path("rules/", views.rules, name="rules"),
]

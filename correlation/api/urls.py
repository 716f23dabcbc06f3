from __future__ import annotations

from django.urls import path

from correlation.api import views

urlpatterns = [
    path("incidents/<int:pk>/correlations/", views.IncidentCorrelationsView.as_view(), name="incident-correlations"),
    path("incidents/<int:pk>/correlate/", views.IncidentCorrelateView.as_view(), name="incident-correlate"),
    path("incidents/<int:pk>/impact/", views.IncidentImpactView.as_view(), name="incident-impact"),
]

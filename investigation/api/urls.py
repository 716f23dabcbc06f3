from __future__ import annotations

from django.urls import path

from investigation.api import views

prefix = "incidents/<int:pk>/investigation"

urlpatterns = [
    path(f"{prefix}/hypotheses/", views.HypothesisListView.as_view(), name="investigation-hypotheses"),
    path(
        f"{prefix}/hypotheses/<int:hypothesis_id>/",
        views.HypothesisDetailView.as_view(),
        name="investigation-hypothesis-detail",
    ),
    path(f"{prefix}/steps/", views.StepListView.as_view(), name="investigation-steps"),
    path(f"{prefix}/steps/propose/", views.StepProposeView.as_view(), name="investigation-steps-propose"),
    path(f"{prefix}/steps/<int:step_id>/", views.StepDetailView.as_view(), name="investigation-step-detail"),
    path(f"{prefix}/steps/<int:step_id>/run/", views.StepRunView.as_view(), name="investigation-step-run"),
    path(f"{prefix}/rca/", views.RCAView.as_view(), name="investigation-rca"),
    path(f"{prefix}/rca/versions/", views.RCAVersionsView.as_view(), name="investigation-rca-versions"),
    path(
        f"{prefix}/recommended-actions/",
        views.RecommendedActionsView.as_view(),
        name="investigation-recommended-actions",
    ),
]

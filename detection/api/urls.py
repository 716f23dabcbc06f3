from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from detection.api import views

router = SimpleRouter()
router.register("rules", views.RuleViewSet, basename="detection-rule")
router.register("sources", views.SourceViewSet, basename="detection-source")
router.register("alerts", views.AlertViewSet, basename="detection-alert")

urlpatterns = [
    path("status/", views.StatusView.as_view(), name="detection-status"),
    *router.urls,
]

from __future__ import annotations

from django.apps import AppConfig


class UiConfig(AppConfig):
    """Operator pages that read across apps (alerts, rules), page-only selectors and chart geometry."""

    name = "ui"
    verbose_name = "Operator UI"

from __future__ import annotations

from django.apps import AppConfig


class DetectionConfig(AppConfig):
    name = "detection"

    def ready(self) -> None:
        from detection.metrics import register_collector

        register_collector()

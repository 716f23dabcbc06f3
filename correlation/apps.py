from django.apps import AppConfig


class CorrelationConfig(AppConfig):
    name = "correlation"

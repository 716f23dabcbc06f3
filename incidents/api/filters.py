"""Query-string filters of the incident list (django-filter: bad values are a 400 naming the field)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters

from incidents.models import Incident, IncidentSource, Severity, Status


class _IdOrSlugFilter(filters.CharFilter):
    """``?service=12`` or ``?service=checkout``: people type slugs, scripts pass ids."""

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        if not value:
            return qs
        value = value.strip()
        if value.isdigit():
            return qs.filter(**{f"{self.field_name}_id": int(value)})
        return qs.filter(**{f"{self.field_name}__slug": value})


class IncidentFilter(filters.FilterSet):
    # distinct=False: these are columns of the incident itself, so no join can duplicate a row,
    # and SELECT DISTINCT over every column would cost more than the lookup.
    status = filters.MultipleChoiceFilter(choices=Status.choices, distinct=False, help_text="Repeat for several.")
    severity = filters.MultipleChoiceFilter(choices=Severity.choices, distinct=False, help_text="Repeat for several.")
    source = filters.MultipleChoiceFilter(choices=IncidentSource.choices, distinct=False)
    service = _IdOrSlugFilter(field_name="service", help_text="Service id or slug.")
    team = _IdOrSlugFilter(field_name="service__team", help_text="Team id or slug.")
    since = filters.IsoDateTimeFilter(field_name="detected_at", lookup_expr="gte", help_text="Detected at or after.")
    until = filters.IsoDateTimeFilter(field_name="detected_at", lookup_expr="lt", help_text="Detected before.")
    false_positive = filters.BooleanFilter()

    class Meta:
        model = Incident
        fields = ["status", "severity", "source", "service", "team", "since", "until", "false_positive"]

"""Admin for teams, services and incidents. Incident changes go through the services; the
status is read-only here (it moves only through the lifecycle) and the timeline is append-only.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from incidents import services
from incidents.models import Incident, Service, Team, TimelineEvent
from reliability_studio.lib.errors import DomainError


def _add_domain_error(form: forms.Form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "member_count", "service_count"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return (
            super()
            .get_queryset(request)
            .annotate(member_total=Count("members", distinct=True), service_total=Count("services", distinct=True))
        )

    @admin.display(description="members", ordering="member_total")
    def member_count(self, team: Team) -> int:
        return team.member_total

    @admin.display(description="services", ordering="service_total")
    def service_count(self, team: Team) -> int:
        return team.service_total


class ServiceAdminForm(forms.ModelForm):
    runbook_url = forms.URLField(required=False, assume_scheme="https", label="Runbook URL")

    class Meta:
        model = Service
        fields = ["name", "slug", "team", "description", "runbook_url", "telemetry_labels", "depends_on"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # A service cannot depend on itself; the cycle check below covers longer loops.
            self.fields["depends_on"].queryset = Service.objects.exclude(pk=self.instance.pk)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.instance.pk and "depends_on" in cleaned:
            try:
                services.service_dependencies_check(service=self.instance, depends_on=cleaned["depends_on"])
            except DomainError as exc:
                _add_domain_error(self, exc)
        return cleaned


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    form = ServiceAdminForm
    list_display = ["name", "slug", "team"]
    list_filter = ["team"]
    list_select_related = ["team"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["depends_on"]


class TimelineEventInline(admin.TabularInline):
    """The incident's timeline, read-only: events are appended by the services, never edited."""

    model = TimelineEvent
    fields = ["at", "kind", "actor_name", "message", "data"]
    readonly_fields = fields
    ordering = ["at", "id"]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class IncidentAdminForm(forms.ModelForm):
    class Meta:
        model = Incident
        fields = list(services.UPDATABLE_FIELDS)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        changed = {name: cleaned[name] for name in self.changed_data if name in cleaned}
        try:
            services.incident_update_validate(incident=self.instance, **changed)
        except DomainError as exc:
            _add_domain_error(self, exc)
        return cleaned


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    form = IncidentAdminForm
    list_display = ["id", "title", "severity", "status", "service", "detected_at", "acknowledged_at", "resolved_at"]
    list_display_links = ["id", "title"]
    list_filter = ["status", "severity", "source", "false_positive", "service__team", "service"]
    list_select_related = ["service"]
    search_fields = ["title", "=fingerprint"]
    # Large tables: no COUNT(*) of the whole table on every page.
    show_full_result_count = False
    raw_id_fields = ["commander"]
    inlines = [TimelineEventInline]
    fieldsets = [
        (None, {"fields": ["title", "description", "severity", "commander", "impact_started_at"]}),
        (
            "Lifecycle (changes through the API or the incident page)",
            {
                "fields": [
                    "status",
                    "service",
                    "fingerprint",
                    "source",
                    "labels",
                    "detected_at",
                    "acknowledged_at",
                    "acknowledged_by",
                    "mitigated_at",
                    "resolved_at",
                    "resolution_note",
                    "false_positive",
                    "last_seen_at",
                    "signal_count",
                    "previous",
                    "created_by",
                    "impact",
                ]
            },
        ),
    ]
    readonly_fields = fieldsets[1][1]["fields"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Incidents are opened by detection or declared through the API, which write the timeline.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting would take the append-only timeline with it.
        return False

    def save_model(self, request: HttpRequest, obj: Incident, form: forms.ModelForm, change: bool) -> None:
        changed = {name: form.cleaned_data[name] for name in form.changed_data if name in services.UPDATABLE_FIELDS}
        if changed:
            services.incident_update(incident=obj, user=request.user, **changed)


@admin.register(TimelineEvent)
class TimelineEventAdmin(admin.ModelAdmin):
    """Read-only: the timeline is append-only."""

    list_display = ["at", "incident", "kind", "actor_name", "message"]
    list_filter = ["kind"]
    list_select_related = ["incident"]
    search_fields = ["=incident__id"]
    show_full_result_count = False
    raw_id_fields = ["incident", "actor"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

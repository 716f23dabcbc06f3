"""Admin: playbooks are edited here; hypotheses, steps and RCA versions are shown read-only
(they change through the API and its services, which write the timeline)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from investigation import actions, playbooks
from investigation.models import (
    Hypothesis,
    InvestigationStep,
    InvestigationTemplate,
    InvestigationTemplateStep,
    RCAReport,
)


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Hypothesis)
class HypothesisAdmin(_ReadOnly):
    list_display = ["title", "incident", "status", "confidence", "created_at"]
    list_filter = ["status"]
    search_fields = ["title", "incident__title"]


@admin.register(InvestigationStep)
class InvestigationStepAdmin(_ReadOnly):
    list_display = ["title", "incident", "action", "status", "origin", "created_at", "completed_at"]
    list_filter = ["action", "status", "origin"]
    search_fields = ["title", "incident__title"]


@admin.register(RCAReport)
class RCAReportAdmin(_ReadOnly):
    list_display = ["incident", "version", "created_by", "created_at"]
    search_fields = ["incident__title"]


class TemplateStepForm(forms.ModelForm):
    class Meta:
        model = InvestigationTemplateStep
        fields = ["position", "title", "action", "parameters", "reason"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        action = cleaned.get("action")
        if action:
            try:
                cleaned["parameters"] = actions.clean_parameters(action, cleaned.get("parameters") or {})
            except actions.ParameterError as exc:
                self.add_error("parameters", f"{exc.key}: {exc.message}" if exc.key != "parameters" else exc.message)
        return cleaned


class TemplateStepInline(admin.TabularInline):
    model = InvestigationTemplateStep
    form = TemplateStepForm
    extra = 1


class TemplateForm(forms.ModelForm):
    class Meta:
        model = InvestigationTemplate
        fields = ["name", "description", "enabled", "match_rules", "match_services", "match_labels", "match_severities"]

    def clean_match_labels(self) -> dict[str, str]:
        try:
            return playbooks.clean_match_labels(self.cleaned_data.get("match_labels") or {})
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_match_severities(self) -> list[str]:
        try:
            return playbooks.clean_match_severities(self.cleaned_data.get("match_severities") or [])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not any(cleaned.get(name) for name in ("match_rules", "match_services", "match_labels", "match_severities")):
            raise forms.ValidationError(
                "Say which incidents the playbook is for: a rule, a service, labels or severities."
            )
        return cleaned


@admin.register(InvestigationTemplate)
class InvestigationTemplateAdmin(admin.ModelAdmin):
    form = TemplateForm
    inlines = [TemplateStepInline]
    list_display = ["name", "enabled", "updated_at"]
    list_filter = ["enabled"]
    search_fields = ["name", "description"]
    filter_horizontal = ["match_rules", "match_services"]

    def save_model(self, request: HttpRequest, obj: InvestigationTemplate, form: Any, change: bool) -> None:
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)

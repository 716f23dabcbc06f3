"""Admin for sources and rules, validated exactly like the API; alerts and cycles read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from detection import configuration
from detection.dry_run import rule_dry_run
from detection.models import Alert, DataSource, DetectionCycle, DetectionRule
from detection.validation import rule_validate, source_validate
from reliability_studio.lib.errors import DomainError

SECRET_FIELDS = ("auth_token", "password", "kubeconfig")
TEST_NOW_LIMIT = 20


def _add_domain_error(form: forms.Form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _form_values(form: forms.ModelForm, allowed: frozenset[str]) -> dict[str, Any]:
    # Only model fields: the admin's form also carries helpers such as clear_credentials.
    return {name: value for name, value in form.cleaned_data.items() if name in allowed}


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


class DataSourceForm(forms.ModelForm):
    url = forms.URLField(required=False, assume_scheme="https",
                         help_text=DataSource._meta.get_field("url").help_text)
    clear_credentials = forms.BooleanField(
        required=False, help_text="Remove the stored token, password and kubeconfig."
    )

    class Meta:
        model = DataSource
        fields = ["name", "kind", "url", "timeout_seconds", "enabled", "verify_tls", "auth_token", "username",
                  "password", "kubeconfig", "context"]
        widgets = {
            "auth_token": forms.PasswordInput(render_value=False),
            "password": forms.PasswordInput(render_value=False),
            "kubeconfig": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            # Secrets are written, never shown back: not even in the page's HTML.
            self.initial[name] = ""
            stored = bool(self.instance.pk and getattr(self.instance, name))
            self.fields[name].help_text = (
                "Stored; leave empty to keep it." if stored else self.fields[name].help_text or "Not set."
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in SECRET_FIELDS:
            if not data.get(name) and self.instance.pk:
                data[name] = "" if data.get("clear_credentials") else getattr(self.instance, name)
        if self.errors:
            return data  # no point asking the source about settings that are wrong anyway
        try:
            source_validate(
                name=data.get("name", ""),
                kind=data.get("kind", ""),
                url=data.get("url", ""),
                timeout_seconds=data.get("timeout_seconds", 10.0),
                enabled=data.get("enabled", False),
                verify_tls=data.get("verify_tls", True),
                auth_token=data.get("auth_token", ""),
                username=data.get("username", ""),
                password=data.get("password", ""),
                kubeconfig=data.get("kubeconfig", ""),
                context=data.get("context", ""),
                instance=self.instance if self.instance.pk else None,
            )
        except DomainError as exc:
            _add_domain_error(self, exc)
        return data


@admin.register(DataSource)
class DataSourceAdmin(admin.ModelAdmin):
    form = DataSourceForm
    list_display = ["name", "kind", "url", "enabled", "is_healthy", "consecutive_failures", "last_ok_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "url"]
    readonly_fields = ["last_ok_at", "last_error", "last_error_at", "consecutive_failures"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "url", "timeout_seconds", "enabled", "verify_tls"]}),
        ("Credentials", {"fields": ["auth_token", "username", "password", "kubeconfig", "context",
                                    "clear_credentials"]}),
        ("Health", {"fields": ["last_ok_at", "last_error", "last_error_at", "consecutive_failures"]}),
    ]

    @admin.display(boolean=True, description="healthy")
    def is_healthy(self, source: DataSource) -> bool:
        return source.healthy

    def save_model(self, request: HttpRequest, obj: DataSource, form: forms.ModelForm, change: bool) -> None:
        # Through the service, which saves only the edited fields: the cycle writes health concurrently.
        fields = _form_values(form, configuration.SOURCE_FIELDS)
        if change:
            configuration.source_update(source=obj, user=request.user, **fields)
        else:
            obj.pk = configuration.source_create(user=request.user, **fields).pk


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


class DetectionRuleForm(forms.ModelForm):
    class Meta:
        model = DetectionRule
        fields = ["name", "description", "rule_type", "source", "service", "team", "query", "comparator",
                  "threshold_value", "pattern", "parameters", "for_seconds", "keep_firing_for_seconds",
                  "evaluation_interval_seconds", "severity", "labels", "annotations", "auto_resolve", "enabled"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            cleaned = rule_validate(
                rule_type=data.get("rule_type", ""),
                source=data.get("source"),
                query=data.get("query", ""),
                comparator=data.get("comparator", ""),
                threshold_value=data.get("threshold_value"),
                pattern=data.get("pattern", ""),
                parameters=data.get("parameters"),
                for_seconds=data.get("for_seconds", 0),
                keep_firing_for_seconds=data.get("keep_firing_for_seconds", 0),
                evaluation_interval_seconds=data.get("evaluation_interval_seconds"),
                labels=data.get("labels"),
                annotations=data.get("annotations"),
                instance=self.instance if self.instance.pk else None,
            )
        except DomainError as exc:
            _add_domain_error(self, exc)
        else:
            data.update(cleaned)
        if not data.get("team") and data.get("service"):
            data["team"] = data["service"].team
        return data


@admin.register(DetectionRule)
class DetectionRuleAdmin(admin.ModelAdmin):
    form = DetectionRuleForm
    list_display = ["name", "rule_type", "source", "service", "severity", "enabled", "last_evaluated_at",
                    "last_value", "has_error"]
    list_filter = ["rule_type", "source", "severity", "enabled", "service", "team"]
    list_select_related = ["source", "service"]
    search_fields = ["name", "description", "query"]
    readonly_fields = ["last_evaluated_at", "next_evaluation_at", "last_value", "last_error", "last_error_at",
                       "last_duration_ms"]
    actions = ["test_now"]
    fieldsets = [
        (None, {"fields": ["name", "description", "enabled", "severity", "service", "team"]}),
        ("What to watch", {"fields": ["rule_type", "source", "query", "comparator", "threshold_value", "pattern",
                                      "parameters"]}),
        ("Timing", {"fields": ["for_seconds", "keep_firing_for_seconds", "evaluation_interval_seconds",
                               "auto_resolve"]}),
        ("Labels", {"fields": ["labels", "annotations"]}),
        ("Last evaluation", {"fields": readonly_fields}),
    ]

    @admin.display(boolean=True, description="error")
    def has_error(self, rule: DetectionRule) -> bool:
        return bool(rule.last_error)

    def save_model(self, request: HttpRequest, obj: DetectionRule, form: forms.ModelForm, change: bool) -> None:
        # Through the service, which saves only the edited fields: the cycle writes bookkeeping
        # (and a pattern rule's memory) concurrently, and a stale copy must not overwrite it.
        fields = _form_values(form, configuration.RULE_FIELDS)
        if change:
            configuration.rule_update(rule=obj, user=request.user, **fields)
        else:
            obj.pk = configuration.rule_create(user=request.user, **fields).pk

    @admin.action(description="Test now (dry run: evaluates, saves nothing)")
    def test_now(self, request: HttpRequest, queryset: QuerySet[DetectionRule]) -> None:
        rules = list(queryset.select_related("source")[: TEST_NOW_LIMIT + 1])
        if len(rules) > TEST_NOW_LIMIT:
            self.message_user(request, f"Testing the first {TEST_NOW_LIMIT} rules only.", messages.WARNING)
        for rule in rules[:TEST_NOW_LIMIT]:
            result = rule_dry_run(rule=rule)
            level = messages.ERROR if not result.ok else messages.WARNING if result.would_fire else messages.SUCCESS
            self.message_user(request, f"{rule.name}: {result.summary()}", level)


# --------------------------------------------------------------------------------------------
# Read-only: written by the detection cycle only
# --------------------------------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["id", "rule", "source", "service", "state", "severity", "value", "active_since", "fired_at",
                    "incident", "detection_latency_seconds"]
    list_filter = ["state", "kind", "severity", "source"]
    list_select_related = ["rule", "source", "service", "incident"]
    search_fields = ["fingerprint", "message", "rule__name"]


@admin.register(DetectionCycle)
class DetectionCycleAdmin(ReadOnlyAdmin):
    list_display = ["id", "started_at", "finished_at", "duration", "rules_evaluated", "rules_errored",
                    "alerts_fired", "incidents_opened", "chunks_done", "chunks_total"]
    date_hierarchy = "started_at"

    @admin.display(description="duration (s)")
    def duration(self, cycle: DetectionCycle) -> str:
        seconds = cycle.duration_seconds
        return "running" if seconds is None else f"{seconds:.2f}"

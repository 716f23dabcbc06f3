from __future__ import annotations

from django.contrib import admin

from correlation.models import Correlation, CorrelationRun


@admin.register(Correlation)
class CorrelationAdmin(admin.ModelAdmin):
    list_display = [
        "incident", "rank", "kind", "title", "confidence", "is_root_cause_candidate", "active", "updated_at"
    ]
    list_filter = ["kind", "active", "is_root_cause_candidate"]
    search_fields = ["title", "key", "incident__title"]
    list_select_related = ["incident"]
    raw_id_fields = ["incident", "service"]
    # Written by the correlator only: the admin shows evidence, it does not make it up.
    readonly_fields = [f.name for f in Correlation._meta.fields]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False


@admin.register(CorrelationRun)
class CorrelationRunAdmin(admin.ModelAdmin):
    list_display = ["incident", "trigger", "status", "started_at", "finished_at", "findings", "changed"]
    list_filter = ["status", "trigger"]
    list_select_related = ["incident"]
    raw_id_fields = ["incident"]
    readonly_fields = [f.name for f in CorrelationRun._meta.fields]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

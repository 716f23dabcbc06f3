"""Detection pages: active alerts with source health, and the rules. Read-only: rules are edited in
the admin and the API, which own the validation."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from ui import pages

# The alerts page polls this often besides refreshing on every `alert` event.
ALERTS_REFRESH_SECONDS = 30


@require_GET
@login_required
def alerts(request: HttpRequest) -> HttpResponse:
    context = {"dashboard": pages.alerts_dashboard(user=request.user), "refresh_seconds": ALERTS_REFRESH_SECONDS}
    fragment = request.htmx and not request.htmx.history_restore_request
    response = render(request, "alerts/_alerts_body.html" if fragment else "alerts/alerts.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
@login_required
def alerts_badge(request: HttpRequest) -> HttpResponse:
    """The firing count in the navigation, on every page."""
    return render(request, "alerts/_nav_badge.html", {"firing": pages.firing_alert_count(user=request.user)})


@require_GET
@login_required
def rules(request: HttpRequest) -> HttpResponse:
    return render(request, "rules/rules.html", {"rows": pages.rule_rows(user=request.user)})

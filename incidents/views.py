"""Server-rendered incident pages. They read through selectors and write through services, like the API.

htmx requests get the fragment they asked for (``request.htmx``); everything else gets the whole
page, so every page also works without JavaScript. Fragments are the only templates that draw
their part, whether the page is rendered whole or refreshed live.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from incidents import services
from incidents.models import Incident
from incidents.selectors import incident_list_for_user
from reliability_studio.lib.errors import Conflict, DomainError
from ui import pages

# Fired on the page after a successful write: the timeline and feed fragments listen for it.
CHANGED_EVENT = "incident-changed"


def _fragment(request: HttpRequest) -> bool:
    # A history restore asks for the whole page even though it comes from htmx.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _render(request: HttpRequest, template: str, partial: str, context: dict[str, Any]) -> HttpResponse:
    response = render(request, partial if _fragment(request) else template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _incident_or_404(request: HttpRequest, pk: int) -> Incident:
    # Another team's incident answers 404, exactly like one that does not exist.
    incident = incident_list_for_user(user=request.user).select_related("service", "commander", "acknowledged_by")
    found = incident.filter(pk=pk).first()
    if found is None:
        raise Http404("No such incident among your teams' incidents.")
    return found


@require_GET
@login_required
def incident_feed(request: HttpRequest) -> HttpResponse:
    filters = pages.FeedFilters.from_query(request.GET)
    context = {
        "incidents": pages.feed_incidents(user=request.user, filters=filters),
        "filters": filters,
        "feed_limit": pages.FEED_LIMIT,
        **pages.feed_filter_choices(user=request.user),
    }
    return _render(request, "incidents/feed.html", "incidents/_feed_rows.html", context)


def _workspace_context(incident: Incident, **extra: Any) -> dict[str, Any]:
    return {
        "incident": incident,
        "clocks": pages.incident_clocks(incident),
        "actions": pages.lifecycle_actions(incident),
        **extra,
    }


@require_GET
@login_required
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_or_404(request, pk)
    context = _workspace_context(incident)
    if not _fragment(request):
        # The whole page; a live refresh asks only for the header. Evidence and investigation
        # load separately (incident_panels), so a failure there never takes the actions down.
        events, truncated = pages.incident_timeline(incident=incident)
        context.update(events=events, timeline_truncated=truncated)
    return _render(request, "incidents/detail.html", "incidents/_workspace_header.html", context)


@require_GET
@login_required
def incident_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_or_404(request, pk)
    events, truncated = pages.incident_timeline(incident=incident)
    return render(
        request, "incidents/_timeline.html", {"incident": incident, "events": events, "timeline_truncated": truncated}
    )


@require_GET
@login_required
def incident_panels(request: HttpRequest, pk: int) -> HttpResponse:
    """Evidence and investigation, refreshed together when the incident changes."""
    incident = _incident_or_404(request, pk)
    context = {
        "incident": incident,
        "evidence": pages.evidence_for(incident=incident),
        "investigation": pages.investigation_for(incident=incident),
    }
    return render(request, "incidents/_panels.html", context)


def _after_write(request: HttpRequest, incident: Incident, *, error: DomainError | None, done: str) -> HttpResponse:
    """The header fragment for htmx (with the error in place), or a redirect with a message."""
    if _fragment(request):
        fresh = _incident_or_404(request, incident.pk)
        response = render(
            request,
            "incidents/_workspace_write.html",
            _workspace_context(
                fresh,
                error=error and error.message,
                conflict=isinstance(error, Conflict),
                notice=None if error else done,
            ),
        )
        if error is None:
            trigger_client_event(response, CHANGED_EVENT, {"id": incident.pk})
        return response
    if error is None:
        messages.success(request, done)
    else:
        messages.error(request, error.message)
    return redirect(incident)


@require_POST
@login_required
def incident_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_or_404(request, pk)
    try:
        services.incident_acknowledge(incident=incident, user=request.user)
    except DomainError as exc:
        return _after_write(request, incident, error=exc, done="")
    return _after_write(request, incident, error=None, done="Acknowledged: you are on it.")


@require_POST
@login_required
def incident_transition(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_or_404(request, pk)
    target = request.POST.get("to", "")
    try:
        services.incident_transition(incident=incident, to=target, user=request.user, note=request.POST.get("note", ""))
    except DomainError as exc:
        return _after_write(request, incident, error=exc, done="")
    return _after_write(request, incident, error=None, done=f"Now {target}.")


@require_POST
@login_required
def incident_take_command(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_or_404(request, pk)
    try:
        services.incident_update(incident=incident, user=request.user, commander=request.user)
    except DomainError as exc:
        return _after_write(request, incident, error=exc, done="")
    return _after_write(request, incident, error=None, done="You are the incident commander.")


@require_POST
@login_required
def incident_comment(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_or_404(request, pk)
    message = request.POST.get("message", "")
    try:
        services.incident_comment(incident=incident, user=request.user, message=message)
    except DomainError as exc:
        if _fragment(request):
            return render(
                request,
                "incidents/_comment_form.html",
                {"incident": incident, "error": exc.message, "message": message},
            )
        messages.error(request, exc.message)
        return redirect(incident)
    if _fragment(request):
        response = render(request, "incidents/_comment_form.html", {"incident": incident})
        trigger_client_event(response, CHANGED_EVENT, {"id": incident.pk})
        return response
    return redirect(incident)


@require_GET
@login_required
def insights(request: HttpRequest) -> HttpResponse:
    filters = pages.InsightsFilters.from_query(request.GET, user=request.user)
    try:
        data = pages.insights(user=request.user, filters=filters)
        error = None
    except DomainError as exc:
        data, error = {}, exc.message
    context = {"filters": filters, "error": error, **data, **pages.insights_filter_choices(user=request.user)}
    return _render(request, "insights/insights.html", "insights/_insights_body.html", context)

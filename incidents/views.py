"""Server-rendered pages. They read through selectors and write through services, like the API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from incidents.selectors import incident_list_for_user


@login_required
def incident_feed(request: HttpRequest) -> HttpResponse:
    incidents = incident_list_for_user(user=request.user).select_related("service")[:50]
    return render(request, "incidents/feed.html", {"incidents": incidents})


@login_required
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(incident_list_for_user(user=request.user).select_related("service"), pk=pk)
    return render(request, "incidents/detail.html", {"incident": incident})

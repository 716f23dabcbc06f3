"""Thin views: find the incident among the user's, call one selector or service, serialize.

Paths live under ``/api/incidents/{id}/investigation/``; an incident of another team, or a
hypothesis or step of another incident, is a 404.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.models import Incident
from investigation import selectors, services
from investigation.api.serializers import (
    ContradictedSerializer,
    HypothesisChangeSerializer,
    HypothesisCreateSerializer,
    HypothesisSerializer,
    HypothesisUpdateSerializer,
    ProposedStepsSerializer,
    RCAQuerySerializer,
    RCASerializer,
    RCAVersionSerializer,
    RecommendationListSerializer,
    StepCreateSerializer,
    StepRunSerializer,
    StepSerializer,
    StepUpdateSerializer,
)
from investigation.models import Hypothesis, InvestigationStep

_ERRORS = {
    400: OpenApiResponse(description='Invalid input: `{"<field>": ["message"]}` or `{"detail": "..."}`.'),
    404: OpenApiResponse(description="No such incident among your teams' incidents, or no such item on it."),
}
_CONFLICT = {409: OpenApiResponse(description="The step is already running.")}


class MarkdownRenderer(renderers.BaseRenderer):
    """``?format=markdown``: the RCA as a postmortem document."""

    media_type = "text/markdown"
    format = "markdown"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, str):
            return data.encode(self.charset)
        # Errors (404, 400) arrive as DRF's dicts: say them in one line.
        detail = data.get("detail") if isinstance(data, dict) else None
        return str(detail if detail is not None else data).encode(self.charset)


class _IncidentView(GenericAPIView):
    filter_backends: list[Any] = []

    def incident(self) -> Incident:
        return selectors.incident_for_user(user=self.request.user, incident_id=self.kwargs["pk"])


class HypothesisListView(_IncidentView):
    serializer_class = HypothesisSerializer
    queryset = Hypothesis.objects.none()  # for the schema

    @extend_schema(summary="The incident's hypotheses, oldest first", responses={200: HypothesisSerializer(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        page = self.paginate_queryset(selectors.hypothesis_list(self.incident()))
        return self.get_paginated_response(HypothesisSerializer(page, many=True).data)

    @extend_schema(
        summary="Add a hypothesis (proposed); the steps that would test it are proposed with it",
        request=HypothesisCreateSerializer,
        responses={201: HypothesisChangeSerializer, **_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        incident = self.incident()
        payload = HypothesisCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        change = services.hypothesis_create(incident=incident, user=request.user, **payload.validated_data)
        return Response(_change_out(incident, change), status=status.HTTP_201_CREATED)


class HypothesisDetailView(_IncidentView):
    serializer_class = HypothesisSerializer
    queryset = Hypothesis.objects.none()

    @extend_schema(summary="One hypothesis", responses={200: HypothesisSerializer, 404: _ERRORS[404]})
    def get(self, request: Request, pk: int, hypothesis_id: int) -> Response:
        hypothesis = selectors.hypothesis_get(incident=self.incident(), hypothesis_id=hypothesis_id)
        return Response(HypothesisSerializer(hypothesis).data)

    @extend_schema(
        summary="Change a hypothesis: text, confidence, status (proposed → investigating → confirmed | "
        "rejected) or evidence links",
        description="Confirming one answers with `contradicts`: the open hypotheses it contradicts, left open "
        "for a person to decide on.",
        request=HypothesisUpdateSerializer,
        responses={200: HypothesisChangeSerializer, **_ERRORS},
    )
    def patch(self, request: Request, pk: int, hypothesis_id: int) -> Response:
        incident = self.incident()
        hypothesis = selectors.hypothesis_get(incident=incident, hypothesis_id=hypothesis_id)
        payload = HypothesisUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        change = services.hypothesis_update(hypothesis=hypothesis, user=request.user, **payload.validated_data)
        return Response(_change_out(incident, change))


def _change_out(incident: Incident, change: services.HypothesisChange) -> dict[str, Any]:
    fresh = selectors.hypothesis_get(incident=incident, hypothesis_id=change.hypothesis.pk)
    return {
        **HypothesisSerializer(fresh).data,
        "contradicts": ContradictedSerializer(change.contradicts, many=True).data,
        "proposed_steps": [step.pk for step in change.proposed_steps],
    }


class StepListView(_IncidentView):
    serializer_class = StepSerializer
    queryset = InvestigationStep.objects.none()

    @extend_schema(
        summary="The incident's investigation steps, in the order they were added",
        responses={200: StepSerializer(many=True)},
    )
    def get(self, request: Request, pk: int) -> Response:
        page = self.paginate_queryset(selectors.step_list(self.incident()))
        return self.get_paginated_response(StepSerializer(page, many=True).data)

    @extend_schema(
        summary="Add a step: investigate_logs, check_metrics, check_kubernetes, check_traces, test_hypothesis "
        "or manual",
        request=StepCreateSerializer,
        responses={201: StepSerializer, **_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        incident = self.incident()
        payload = StepCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        step = services.step_create(incident=incident, user=request.user, **payload.validated_data)
        return Response(
            StepSerializer(selectors.step_get(incident=incident, step_id=step.pk)).data, status=status.HTTP_201_CREATED
        )


class StepDetailView(_IncidentView):
    serializer_class = StepSerializer
    queryset = InvestigationStep.objects.none()

    @extend_schema(summary="One step, with its findings", responses={200: StepSerializer, 404: _ERRORS[404]})
    def get(self, request: Request, pk: int, step_id: int) -> Response:
        return Response(StepSerializer(selectors.step_get(incident=self.incident(), step_id=step_id)).data)

    @extend_schema(
        summary="Change a step: title, parameters, hypothesis; a manual step's status and findings",
        request=StepUpdateSerializer,
        responses={200: StepSerializer, **_ERRORS},
    )
    def patch(self, request: Request, pk: int, step_id: int) -> Response:
        incident = self.incident()
        step = selectors.step_get(incident=incident, step_id=step_id)
        payload = StepUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.step_update(step=step, user=request.user, **payload.validated_data)
        return Response(StepSerializer(selectors.step_get(incident=incident, step_id=step_id)).data)


class StepRunView(_IncidentView):
    serializer_class = StepRunSerializer
    queryset = InvestigationStep.objects.none()

    @extend_schema(
        summary="Run the step's action on a worker",
        description="Answers 202 with the step and the task id. Where tasks run in-process (the embedded "
        "default) the step is already completed or failed in the answer.",
        request=None,
        responses={202: StepRunSerializer, **_ERRORS, **_CONFLICT},
    )
    def post(self, request: Request, pk: int, step_id: int) -> Response:
        incident = self.incident()
        step = selectors.step_get(incident=incident, step_id=step_id)
        run = services.step_run_request(step=step, user=request.user)
        step = selectors.step_get(incident=incident, step_id=step_id)
        return Response({"step": StepSerializer(step).data, "task_id": run.task_id}, status=status.HTTP_202_ACCEPTED)


class StepProposeView(_IncidentView):
    serializer_class = ProposedStepsSerializer
    queryset = InvestigationStep.objects.none()

    @extend_schema(
        summary="Propose guided and playbook steps now (never twice the same)",
        request=None,
        responses={200: ProposedStepsSerializer, 404: _ERRORS[404]},
    )
    def post(self, request: Request, pk: int) -> Response:
        created = services.steps_propose_for(incident=self.incident())
        return Response({"created": StepSerializer(created, many=True).data})


class RCAView(_IncidentView):
    serializer_class = RCASerializer
    queryset = Incident.objects.none()
    renderer_classes = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer, MarkdownRenderer]

    @extend_schema(
        summary="The root-cause analysis, built from what exists now (stored as a new version when it changed)",
        description="Summary, impact, detection, timeline, root cause (the confirmed hypothesis, else the top "
        "correlation marked unconfirmed), contributing factors, evidence with links, confidence with its "
        "explanation, action items. `?format=markdown` answers the postmortem document; `?version=n` a stored "
        "version, unchanged.",
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "markdown"]),
            OpenApiParameter("version", OpenApiTypes.INT, description="A stored version instead of a new build."),
        ],
        responses={
            (200, "application/json"): OpenApiResponse(response=OpenApiTypes.OBJECT, description="The RCA."),
            (200, "text/markdown"): OpenApiResponse(response=OpenApiTypes.STR, description="The postmortem."),
            **_ERRORS,
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        incident = self.incident()
        query = RCAQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        version = query.validated_data.get("version")
        if version is not None:
            report = selectors.rca_get(incident=incident, version=version)
        else:
            report = services.rca_generate(incident=incident, user=request.user)
        if request.accepted_renderer.format == MarkdownRenderer.format:
            return Response(report.markdown, content_type="text/markdown; charset=utf-8")
        return Response(RCASerializer(report).data)


class RCAVersionsView(_IncidentView):
    serializer_class = RCAVersionSerializer
    queryset = Incident.objects.none()

    @extend_schema(summary="Stored RCA versions, newest first", responses={200: RCAVersionSerializer(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        page = self.paginate_queryset(selectors.rca_versions(self.incident()))
        return self.get_paginated_response(RCAVersionSerializer(page, many=True).data)


class RecommendedActionsView(APIView):
    @extend_schema(
        summary="What to do next, best first, each with the reason it is recommended",
        responses={200: RecommendationListSerializer, 404: _ERRORS[404]},
    )
    def get(self, request: Request, pk: int) -> Response:
        incident = selectors.incident_for_user(user=request.user, incident_id=pk)
        results = selectors.recommended_actions(incident)
        return Response({"count": len(results), "next": None, "previous": None, "results": results})

"""check_kubernetes: the service's pods, their warning events and its latest rollouts.

The pods are found by the service's pod selector (``telemetry_labels.pod_selector``, else
``app=<service>``) in its namespace (``telemetry_labels.namespace``; all namespaces without
one). Rollouts need a namespace: the API lists Deployments per namespace.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from detection.sources.base import KubeEvent, PodState, Rollout
from investigation.actions.base import (
    ActionContext,
    ActionResult,
    ParameterError,
    clean_choices,
    clean_common,
    clean_query,
    clip,
)

SOURCE_KIND = "kubernetes"
PARTS = ("pods", "events", "rollouts")
KEYS = frozenset({"namespace", "selector", "include"})
MAX_PODS = 20
MAX_EVENTS = 10
MAX_ROLLOUTS = 5


def clean(raw: Any) -> dict[str, Any]:
    params = clean_common(raw, allowed=KEYS)
    for key in ("namespace", "selector"):
        if key in params:
            params[key] = clean_query(params[key], key)
    if "include" in params:
        params["include"] = clean_choices(params["include"], "include", PARTS)
    if "namespace" in params and len(params["namespace"]) > 63:
        raise ParameterError("namespace", "A namespace has at most 63 characters.")
    return params


def run(context: ActionContext) -> ActionResult:
    params = context.parameters
    service = context.service
    namespace = params.get("namespace") or (service.namespace() if service else None)
    selector = params.get("selector") or (context.require_service().pod_selector())
    include = params.get("include") or list(PARTS)
    client = context.client()
    data: dict[str, Any] = {
        "window": context.window.as_dict(),
        "source": context.source_name,
        "namespace": namespace,
        "selector": selector,
        "notes": [],
    }
    sentences: list[str] = []
    pods: list[PodState] = []
    if "pods" in include or "events" in include:
        pods = client.pods(namespace, selector)
    if "pods" in include:
        data["pods"] = _pods_data(pods)
        sentences.append(_pods_sentence(pods, data["pods"]))
    rollouts: list[Rollout] = []
    if "rollouts" in include:
        if namespace:
            rollouts = client.rollouts(namespace, selector)
            data["rollouts"] = _rollouts_data(rollouts, context)
            sentences.append(_rollouts_sentence(data["rollouts"]))
        else:
            data["notes"].append("rollouts need a namespace: set telemetry_labels.namespace or parameters.namespace")
    if "events" in include:
        events = client.events(namespace, since=context.window.start)
        mine = _events_about(events, pods, rollouts)
        data["events"] = [_event_data(e) for e in mine[:MAX_EVENTS]]
        data["events_total"] = len(mine)
        if mine:
            reasons = Counter(e.reason for e in mine)
            listed = ", ".join(f"{reason} ×{sum(e.count for e in mine if e.reason == reason)}" for reason in reasons)
            sentences.append(f"warning events: {listed}")
        else:
            sentences.append("no warning events in the window")
    return ActionResult(summary=clip("; ".join(s for s in sentences if s) + ".", 1000), data=data)


def _pods_data(pods: list[PodState]) -> dict[str, Any]:
    reasons: Counter[str] = Counter()
    listed = []
    for pod in pods:
        for container in pod.containers:
            for reason in (container.waiting_reason, container.terminated_reason, container.last_terminated_reason):
                if reason and reason not in ("Completed",):
                    reasons[reason] += 1
        listed.append(
            {
                "pod": pod.name,
                "phase": pod.phase,
                "ready": pod.ready,
                "node": pod.node,
                "containers": [
                    {
                        "name": c.name,
                        "ready": c.ready,
                        "restarts": c.restart_count,
                        "waiting": c.waiting_reason,
                        "terminated": c.terminated_reason,
                        "last_terminated": c.last_terminated_reason,
                        "last_terminated_at": _iso(c.last_terminated_at),
                    }
                    for c in pod.containers
                ],
            }
        )
    not_ready = [p for p in listed if not p["ready"]]
    # Unhealthy pods first: they are what a person came to look at.
    listed.sort(key=lambda p: (p["ready"], p["pod"]))
    return {
        "total": len(pods),
        "ready": len(pods) - len(not_ready),
        "not_ready": [p["pod"] for p in not_ready],
        "restarts": sum(c.restart_count for p in pods for c in p.containers),
        "reasons": dict(reasons.most_common()),
        "items": listed[:MAX_PODS],
    }


def _pods_sentence(pods: list[PodState], data: dict[str, Any]) -> str:
    if not pods:
        return "no pods match the selector"
    sentence = f"{data['ready']} of {data['total']} pods ready"
    if data["reasons"]:
        sentence += " (" + ", ".join(f"{reason}: {n}" for reason, n in data["reasons"].items()) + ")"
    if data["restarts"]:
        sentence += f", {data['restarts']} restarts"
    return sentence


def _rollouts_data(rollouts: list[Rollout], context: ActionContext) -> list[dict[str, Any]]:
    start, end = context.window.start, context.window.end
    found = []
    for rollout in rollouts[:MAX_ROLLOUTS]:
        in_window = rollout.created_at is not None and start <= rollout.created_at <= end
        found.append(
            {
                "kind": rollout.kind,
                "name": rollout.name,
                "deployment": rollout.owner if rollout.kind == "ReplicaSet" else rollout.name,
                "revision": rollout.revision,
                "created_at": _iso(rollout.created_at),
                "images": rollout.images,
                "ready_replicas": rollout.ready_replicas,
                "replicas": rollout.replicas,
                "in_window": in_window,
            }
        )
    return found


def _rollouts_sentence(rollouts: list[dict[str, Any]]) -> str:
    latest = next((r for r in rollouts if r["kind"] == "ReplicaSet"), None) or (rollouts[0] if rollouts else None)
    if latest is None:
        return "no rollouts found"
    when = latest["created_at"] or "an unknown time"
    where = "inside the window" if latest["in_window"] else "before the window"
    return (
        f"latest rollout: {latest['deployment']} revision {latest['revision']} at {when} ({where}), "
        f"{latest['ready_replicas']} of {latest['replicas']} replicas ready"
    )


def _events_about(events: list[KubeEvent], pods: list[PodState], rollouts: list[Rollout]) -> list[KubeEvent]:
    names = {("Pod", p.name) for p in pods} | {(r.kind, r.name) for r in rollouts}
    nodes = {p.node for p in pods if p.node}
    return [
        e
        for e in events
        if (e.involved_kind, e.involved_name) in names or (e.involved_kind == "Node" and e.involved_name in nodes)
    ]


def _event_data(event: KubeEvent) -> dict[str, Any]:
    return {
        "object": f"{event.involved_kind}/{event.involved_name}",
        "reason": event.reason,
        "message": clip(event.message, 300),
        "count": event.count,
        "last_seen": _iso(event.last_timestamp),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None

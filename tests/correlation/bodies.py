"""Kubernetes and Loki response bodies in the shapes their APIs document, timed relative to now.

The canned fixtures in tests/support/fixtures are fixed in 2023; correlation looks at windows
around an incident that happens now, so these builders write the same shapes with fresh times.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

PODS = "/api/v1/pods"
EVENTS = "/api/v1/namespaces/shop/events"
DEPLOYMENTS = "/apis/apps/v1/namespaces/shop/deployments"
REPLICA_SETS = "/apis/apps/v1/namespaces/shop/replicasets"
LOKI_RANGE = "/loki/api/v1/query_range"


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(seconds: float, *, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(seconds=seconds)


def pod(
    name: str,
    *,
    app: str,
    template_hash: str,
    ready: bool = True,
    waiting: str | None = None,
    restarts: int = 0,
    last_terminated: str | None = None,
    last_terminated_at: datetime | None = None,
    phase: str = "Running",
    node: str = "node-a",
) -> dict[str, Any]:
    state: dict[str, Any] = {"waiting": {"reason": waiting, "message": f"{waiting} for {name}"}} if waiting else {
        "running": {"startedAt": iso(ago(3600))}
    }
    last_state: dict[str, Any] = {}
    if last_terminated:
        finished = last_terminated_at or ago(60)
        last_state = {"terminated": {"exitCode": 2, "reason": last_terminated,
                                     "startedAt": iso(finished - timedelta(seconds=10)), "finishedAt": iso(finished)}}
    return {
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": f"uid-{name}",
            "creationTimestamp": iso(ago(3600)),
            "labels": {"app": app, "pod-template-hash": template_hash},
        },
        "spec": {"containers": [{"name": app, "image": f"registry.example.com/shop/{app}:2.4.1"}], "nodeName": node},
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {"name": app, "state": state, "lastState": last_state, "ready": ready, "restartCount": restarts,
                 "image": f"registry.example.com/shop/{app}:2.4.1", "imageID": "", "started": ready}
            ],
        },
    }


def pod_list(*pods: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": list(pods)}


def replica_set(
    deployment: str, template_hash: str, revision: int, created: datetime, image: str, *, replicas: int, ready: int
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"{deployment}-{template_hash}",
            "namespace": "shop",
            "uid": f"uid-rs-{template_hash}",
            "creationTimestamp": iso(created),
            "labels": {"app": deployment, "pod-template-hash": template_hash},
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment,
                                 "uid": f"uid-deploy-{deployment}", "controller": True}],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": deployment, "pod-template-hash": template_hash}},
            "template": {"metadata": {"labels": {"app": deployment}},
                         "spec": {"containers": [{"name": deployment, "image": image}]}},
        },
        "status": {"replicas": replicas, "readyReplicas": ready},
    }


def replica_set_list(*items: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "ReplicaSetList", "apiVersion": "apps/v1", "metadata": {}, "items": list(items)}


def deployment_list(name: str, revision: int, image: str, *, replicas: int, ready: int) -> dict[str, Any]:
    return {
        "kind": "DeploymentList",
        "apiVersion": "apps/v1",
        "metadata": {},
        "items": [
            {
                "metadata": {"name": name, "namespace": "shop", "uid": f"uid-deploy-{name}",
                             "creationTimestamp": iso(ago(90 * 86400)), "labels": {"app": name},
                             "annotations": {"deployment.kubernetes.io/revision": str(revision)}},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": {"app": name}},
                                      "spec": {"containers": [{"name": name, "image": image}]}}},
                "status": {"replicas": replicas, "updatedReplicas": replicas, "readyReplicas": ready},
            }
        ],
    }


def event(reason: str, pod_name: str, message: str, *, last: datetime, count: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"name": f"{pod_name}.{reason.lower()}", "namespace": "shop", "creationTimestamp": iso(last)},
        "involvedObject": {"kind": "Pod", "namespace": "shop", "name": pod_name, "apiVersion": "v1"},
        "reason": reason,
        "message": message,
        "source": {"component": "kubelet", "host": "node-a"},
        "firstTimestamp": iso(last - timedelta(seconds=60)),
        "lastTimestamp": iso(last),
        "count": count,
        "type": "Warning",
    }


def event_list(*items: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "EventList", "apiVersion": "v1", "metadata": {}, "items": list(items)}


def empty(kind: str, api_version: str = "v1") -> dict[str, Any]:
    return {"kind": kind, "apiVersion": api_version, "metadata": {}, "items": []}


def loki_streams(labels: dict[str, str], lines: list[tuple[datetime, str]]) -> dict[str, Any]:
    values = [[str(int(at.timestamp() * 1e9)), text] for at, text in sorted(lines, reverse=True)]
    result = [{"stream": labels, "values": values}] if values else []
    return {"status": "success", "data": {"resultType": "streams", "result": result, "stats": {}}}


def loki_query(service: Any) -> str:
    """The LogQL the logs collector sends for a Service, with the default error filter."""
    from correlation.collectors.base import Options, ServiceRef

    selector = ServiceRef(service.slug, service.name, service.telemetry_labels).log_selector()
    return f"{selector} |~ `{Options.log_error_pattern}`"

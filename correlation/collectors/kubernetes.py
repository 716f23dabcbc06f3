"""Kubernetes state: the service's pods, its rollouts before detection, and Warning events.

"What changed" is the most common cause, so every new ReplicaSet revision created since the
change lookback began is a finding of kind ``change``. Pod trouble (CrashLoopBackOff, OOMKilled,
image pulls, restarts in the window, not ready, Pending) and Warning events about the service's
pods, ReplicaSets, Deployment and nodes are ``infrastructure``. Warning events that only repeat
what a pod finding already says (BackOff beside a CrashLoopBackOff) join that finding's evidence
instead of becoming findings of their own.

The dependencies' pods are read too; a dependency whose pods cannot be read is noted, while a
failure to read the incident's own service fails the collector.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from correlation.collectors.base import ClientFactory, CollectContext, CollectorResult, ServiceRef, in_window
from correlation.scoring import Finding
from detection.sources.base import ContainerState, KubeEvent, PodState, Rollout, SourceError


@dataclass(frozen=True)
class PodCondition:
    signal: str
    label: str
    specificity: float
    test: Callable[[ContainerState], bool]
    # Warning event reasons that describe the same trouble and join this finding's evidence.
    event_reasons: frozenset[str] = frozenset()


CONDITIONS: tuple[PodCondition, ...] = (
    PodCondition(
        "oom_killed",
        "killed for running out of memory (OOMKilled)",
        0.9,
        lambda c: "OOMKilled" in (c.last_terminated_reason, c.terminated_reason),
        frozenset({"OOMKilling"}),
    ),
    PodCondition(
        "crash_loop",
        "in CrashLoopBackOff",
        0.85,
        lambda c: c.waiting_reason == "CrashLoopBackOff",
        frozenset({"BackOff"}),
    ),
    PodCondition(
        "image_pull",
        "unable to pull their image",
        0.9,
        lambda c: c.waiting_reason in {"ImagePullBackOff", "ErrImagePull", "InvalidImageName"},
        frozenset({"BackOff", "Failed"}),
    ),
    PodCondition(
        "config_error",
        "unable to start their container (configuration error)",
        0.85,
        lambda c: c.waiting_reason in {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"},
        frozenset({"Failed"}),
    ),
)
NODE_PRESSURE_REASONS = frozenset(
    {"EvictionThresholdMet", "NodeNotReady", "SystemOOM", "NodeHasDiskPressure", "NodeHasInsufficientMemory",
     "NodeHasInsufficientPID", "FreeDiskSpaceFailed", "ImageGCFailed"}
)
EVENT_SPECIFICITY = {"FailedScheduling": 0.8, "Evicted": 0.8, "Unhealthy": 0.55, "FailedMount": 0.75,
                     "FailedCreatePodSandBox": 0.7, "ProbeWarning": 0.4}
MAX_EVENTS_IN_EVIDENCE = 10
MAX_PODS_IN_EVIDENCE = 20


@dataclass
class KubernetesCollector:
    client_factory: ClientFactory
    source: str
    name: str = "kubernetes"
    kinds: frozenset[str] = frozenset({"infrastructure", "change"})

    def collect(self, context: CollectContext) -> CollectorResult:
        client = self.client_factory()
        result = CollectorResult()
        events_by_namespace: dict[str, list[KubeEvent]] = {}
        for service in context.services:
            try:
                self._collect_service(client, context, service, result, events_by_namespace)
            except SourceError as exc:
                if service is context.service:
                    raise
                result.notes.append(f"pods of {service.slug} could not be read: {exc.message}")
        return result

    def _collect_service(
        self,
        client: Any,
        context: CollectContext,
        service: ServiceRef,
        result: CollectorResult,
        events_by_namespace: dict[str, list[KubeEvent]],
    ) -> None:
        window = context.window
        selector = service.pod_selector()
        pods = client.pods(service.namespace(), label_selector=selector)
        namespaces = sorted({service.namespace()} if service.namespace() else {p.namespace for p in pods})
        rollouts: list[Rollout] = []
        events: list[KubeEvent] = []
        for namespace in namespaces:
            rollouts += client.rollouts(namespace, label_selector=selector)
            if namespace not in events_by_namespace:
                events_by_namespace[namespace] = client.events(namespace, since=window.baseline_start)
            events += events_by_namespace[namespace]
        if not pods and not rollouts:
            result.notes.append(f"no pods or rollouts of {service.slug} match {selector!r}")

        new_replica_sets = _new_replica_sets(rollouts, window.change_start, window.end)
        result.findings += [
            self._rollout_finding(service, rs, rollouts, pods) for rs in new_replica_sets
        ]
        relevant = _relevant_events(events, pods, rollouts, window.baseline_start, window.end)
        pod_findings, used_events = self._pod_findings(service, pods, relevant, window, new_replica_sets)
        result.findings += pod_findings
        result.findings += self._event_findings(service, [e for e in relevant if id(e) not in used_events], pods)
        if service is context.service:
            unhealthy = sorted(p.name for p in pods if _unhealthy(p))
            result.facts.update(
                {"pods_total": len(pods), "pods_affected": unhealthy, "namespaces": namespaces, "selector": selector}
            )

    # -- rollouts --------------------------------------------------------------------------------

    def _rollout_finding(
        self, service: ServiceRef, rs: Rollout, rollouts: list[Rollout], pods: list[PodState]
    ) -> Finding:
        previous = max(
            (
                r
                for r in rollouts
                if r.kind == "ReplicaSet" and r.owner == rs.owner and (r.revision or 0) < (rs.revision or 0)
            ),
            key=lambda r: r.revision or 0,
            default=None,
        )
        deployment = next((r for r in rollouts if r.kind == "Deployment" and r.name == rs.owner), None)
        changed_images = previous is not None and sorted(previous.images) != sorted(rs.images)
        replicas = deployment.replicas if deployment else rs.replicas
        ready = deployment.ready_replicas if deployment else rs.ready_replicas
        unhealthy = replicas > 0 and ready < replicas
        its_pods = [p for p in pods if _replica_set_of(p) == rs.name]
        failing = sorted(p.name for p in its_pods if _unhealthy(p))
        magnitude = 0.7 + (0.15 if changed_images else 0.0) + (0.15 if unhealthy else 0.0)

        if changed_images and previous is not None:
            # Only what changed: a sidecar that stayed the same is noise in the title.
            new = [i for i in rs.images if i not in previous.images]
            old = [i for i in previous.images if i not in rs.images]
            images = ", ".join(_short_image(i) for i in new)
            was = f" (was {', '.join(_short_image(i) for i in old)})" if old else ""
        else:
            images, was = ", ".join(_short_image(i) for i in rs.images) or "no image", ""
        first = rs.revision == 1 or previous is None
        title = (
            f"Rollout of {rs.owner} to revision {rs.revision}: {images}{was}"
            if not first
            else f"{rs.owner} deployed (revision {rs.revision}): {images}"
        )
        detail = f"ReplicaSet {rs.name} created at {_clock(rs.created_at)}; {ready} of {replicas} replicas ready."
        if failing:
            detail += f" {len(failing)} of its pods are unhealthy: {', '.join(failing[:5])}."
        why = ["new image" if changed_images else "same image, new spec"]
        why.append(f"{ready} of {replicas} replicas ready")
        return Finding(
            service=service.slug,
            kind="change",
            signal="rollout",
            key=f"change:{rs.namespace}/{rs.owner}:{rs.revision}",
            onset=rs.created_at.timestamp() if rs.created_at else None,
            magnitude=magnitude,
            specificity=0.9,
            source=self.source,
            title=title,
            detail=detail,
            magnitude_why="; ".join(why),
            evidence={
                "namespace": rs.namespace,
                "deployment": rs.owner,
                "replica_set": rs.name,
                "revision": rs.revision,
                "created_at": _iso(rs.created_at),
                "images": rs.images,
                "previous": {"replica_set": previous.name, "revision": previous.revision, "images": previous.images}
                if previous
                else None,
                "replicas": replicas,
                "ready_replicas": ready,
                "unhealthy_pods": failing,
            },
        )

    # -- pods ------------------------------------------------------------------------------------

    def _pod_findings(
        self,
        service: ServiceRef,
        pods: list[PodState],
        events: list[KubeEvent],
        window: Any,
        new_replica_sets: list[Rollout],
    ) -> tuple[list[Finding], set[int]]:
        findings: list[Finding] = []
        used: set[int] = set()
        covered: set[str] = set()
        total = len(pods)
        new_names = {rs.name for rs in new_replica_sets}
        for condition in CONDITIONS:
            hit = [(p, c) for p in pods for c in p.containers if condition.test(c)]
            if not hit:
                continue
            affected = sorted({p.name for p, _ in hit})
            covered.update(affected)
            matching = [e for e in events if e.reason in condition.event_reasons and e.involved_name in affected]
            used.update(id(e) for e in matching)
            terminated = [c.last_terminated_at for _, c in hit]
            onset = _earliest(
                [t for t in terminated if in_window(_ts(t), window.baseline_start, window.end)]
                + [e.last_timestamp for e in matching]
            )
            findings.append(
                self._pods_finding(service, condition.signal, condition.label, condition.specificity, affected, total,
                                   onset, hit, matching, new_names)
            )

        restarted = [
            (p, c)
            for p in pods
            if p.name not in covered
            for c in p.containers
            if c.restart_count > 0 and in_window(_ts(c.last_terminated_at), window.baseline_start, window.end)
        ]
        if restarted:
            affected = sorted({p.name for p, _ in restarted})
            covered.update(affected)
            onset = _earliest([c.last_terminated_at for _, c in restarted])
            findings.append(self._pods_finding(service, "restarts", "restarted during the incident window", 0.6,
                                               affected, total, onset, restarted, [], new_names))

        pending = [p for p in pods if p.phase == "Pending" and p.name not in covered]
        if pending:
            affected = sorted(p.name for p in pending)
            covered.update(affected)
            scheduling = [e for e in events if e.reason == "FailedScheduling" and e.involved_name in affected]
            used.update(id(e) for e in scheduling)
            signal, label, specificity = (
                ("unschedulable", "Pending: the scheduler cannot place them", 0.8)
                if scheduling
                else ("pending", "stuck in Pending", 0.6)
            )
            findings.append(self._pods_finding(service, signal, label, specificity, affected, total,
                                               _earliest([e.last_timestamp for e in scheduling]),
                                               [(p, None) for p in pending], scheduling, new_names))

        not_ready = [p for p in pods if p.phase == "Running" and not p.ready and p.name not in covered]
        if not_ready:
            affected = sorted(p.name for p in not_ready)
            probes = [e for e in events if e.reason == "Unhealthy" and e.involved_name in affected]
            used.update(id(e) for e in probes)
            findings.append(self._pods_finding(service, "not_ready", "running but not ready", 0.5, affected, total,
                                               _earliest([e.last_timestamp for e in probes]),
                                               [(p, None) for p in not_ready], probes, new_names))
        return findings, used

    def _pods_finding(
        self,
        service: ServiceRef,
        signal: str,
        label: str,
        specificity: float,
        affected: list[str],
        total: int,
        onset: datetime | None,
        hit: Iterable[tuple[PodState, ContainerState | None]],
        events: list[KubeEvent],
        new_replica_sets: set[str],
    ) -> Finding:
        share = len(affected) / total if total else 1.0
        pods_evidence: dict[str, dict[str, Any]] = {}
        for pod, container in hit:
            entry = pods_evidence.setdefault(
                pod.name,
                {"pod": pod.name, "namespace": pod.namespace, "node": pod.node, "phase": pod.phase,
                 "replica_set": _replica_set_of(pod), "containers": []},
            )
            if container is not None:
                entry["containers"].append(
                    {"name": container.name, "restarts": container.restart_count,
                     "waiting": container.waiting_reason, "last_terminated": container.last_terminated_reason,
                     "last_terminated_at": _iso(container.last_terminated_at)}
                )
        from_new = sorted({e["replica_set"] for e in pods_evidence.values()} & new_replica_sets)
        restarts = sum(c["restarts"] for e in pods_evidence.values() for c in e["containers"])
        detail = f"{len(affected)} of {total} pods {label}: {', '.join(affected[:5])}"
        detail += "…" if len(affected) > 5 else "."
        if restarts:
            detail += f" {restarts} restarts."
        if from_new:
            detail += f" They belong to the new ReplicaSet {', '.join(from_new)}."
        if onset is not None:
            detail += f" Seen since {_clock(onset)} at the latest."
        return Finding(
            service=service.slug,
            kind="infrastructure",
            signal=signal,
            key=f"infrastructure:{service.slug}:{signal}",
            onset=onset.timestamp() if onset else None,
            magnitude=0.4 + 0.6 * share,
            specificity=specificity,
            source=self.source,
            title=f"{len(affected)} {service.name} pod{'s' if len(affected) != 1 else ''} {label}",
            detail=detail,
            magnitude_why=f"{len(affected)} of {total} pods",
            onset_is_upper_bound=True,
            evidence={
                "pods": list(pods_evidence.values())[:MAX_PODS_IN_EVIDENCE],
                "pods_affected": len(affected),
                "pods_total": total,
                "from_new_replica_sets": from_new,
                "events": [_event_evidence(e) for e in events[:MAX_EVENTS_IN_EVIDENCE]],
            },
        )

    # -- events ----------------------------------------------------------------------------------

    def _event_findings(self, service: ServiceRef, events: list[KubeEvent], pods: list[PodState]) -> list[Finding]:
        groups: dict[str, list[KubeEvent]] = defaultdict(list)
        for event in events:
            groups[_event_signal(event)].append(event)
        findings = []
        for signal, group in sorted(groups.items()):
            reasons = sorted({e.reason for e in group})
            objects = sorted({f"{e.involved_kind}/{e.involved_name}" for e in group})
            count = sum(e.count for e in group)
            if signal == "node_pressure":
                specificity, title = 0.7, f"Node trouble under {service.name}: {', '.join(reasons)}"
            else:
                specificity = EVENT_SPECIFICITY.get(reasons[0], 0.5)
                title = f"Warning {reasons[0]} on {service.name} ({count} times)"
            findings.append(
                Finding(
                    service=service.slug,
                    kind="infrastructure",
                    signal=signal,
                    key=f"infrastructure:{service.slug}:{signal}",
                    onset=_ts(_earliest([e.last_timestamp for e in group])),
                    magnitude=min(1.0, 0.4 + 0.1 * count),
                    specificity=specificity,
                    source=self.source,
                    title=title,
                    detail=f"{group[0].message} ({', '.join(objects[:5])})",
                    magnitude_why=f"{count} events",
                    onset_is_upper_bound=True,
                    evidence={"events": [_event_evidence(e) for e in group[:MAX_EVENTS_IN_EVIDENCE]],
                              "objects": objects},
                )
            )
        return findings


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _new_replica_sets(rollouts: list[Rollout], start: float, end: float) -> list[Rollout]:
    return sorted(
        (
            r
            for r in rollouts
            if r.kind == "ReplicaSet" and r.owner and in_window(_ts(r.created_at), start, end)
        ),
        key=lambda r: (r.created_at, r.name),
    )


def _relevant_events(
    events: list[KubeEvent], pods: list[PodState], rollouts: list[Rollout], start: float, end: float
) -> list[KubeEvent]:
    names = {("Pod", p.name) for p in pods}
    names |= {(r.kind, r.name) for r in rollouts}
    nodes = {p.node for p in pods if p.node}
    return [
        e
        for e in events
        if e.type == "Warning"
        and ((e.involved_kind, e.involved_name) in names or (e.involved_kind == "Node" and e.involved_name in nodes))
        and (e.last_timestamp is None or in_window(e.last_timestamp.timestamp(), start, end))
    ]


def _event_signal(event: KubeEvent) -> str:
    if event.involved_kind == "Node" or event.reason in NODE_PRESSURE_REASONS or "Pressure" in event.reason:
        return "node_pressure"
    return f"event_{event.reason.lower() or 'unknown'}"


def _unhealthy(pod: PodState) -> bool:
    if pod.phase in ("Pending", "Failed", "Unknown"):
        return True
    return pod.phase == "Running" and not pod.ready


def _replica_set_of(pod: PodState) -> str | None:
    template_hash = pod.labels.get("pod-template-hash")
    if template_hash and f"-{template_hash}-" in pod.name:
        return pod.name[: pod.name.index(f"-{template_hash}-") + len(template_hash) + 1]
    return None


def _earliest(values: Iterable[datetime | None]) -> datetime | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _clock(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%H:%M:%S UTC") if value is not None else "an unknown time"


def _short_image(image: str) -> str:
    return image.rsplit("/", 1)[-1]


def _event_evidence(event: KubeEvent) -> dict[str, Any]:
    return {
        "reason": event.reason,
        "message": event.message[:500],
        "object": f"{event.involved_kind}/{event.involved_name}",
        "count": event.count,
        "last_seen": _iso(event.last_timestamp),
    }

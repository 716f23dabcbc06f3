"""Pattern rules: failure shapes we recognise by name in pod states and in log lines.

Pod patterns read the container states the Kubernetes client returns; log patterns read Loki
log lines (a regex that must match at least ``min_count`` lines per stream) or a metric LogQL
count compared against a threshold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from detection.evaluators.base import Breach
from detection.evaluators.threshold import evaluate_threshold
from detection.sources.base import ContainerState, LogLine, PodState, Sample, timestamp_seconds

PatternKind = Literal["pod", "log_line", "log_count"]


@dataclass(frozen=True)
class KnownPattern:
    name: str
    kind: PatternKind
    description: str
    waiting_reasons: frozenset[str] = field(default_factory=frozenset)
    terminated_reasons: frozenset[str] = field(default_factory=frozenset)
    restarts_rising: bool = False
    default_regex: str = ""


KNOWN_PATTERNS: dict[str, KnownPattern] = {
    p.name: p
    for p in (
        KnownPattern(
            "CrashLoopBackOff",
            "pod",
            "A container keeps exiting and Kubernetes is backing off before restarting it.",
            waiting_reasons=frozenset({"CrashLoopBackOff"}),
        ),
        KnownPattern(
            "ImagePullBackOff",
            "pod",
            "The image cannot be pulled and Kubernetes is backing off (bad tag, registry auth).",
            waiting_reasons=frozenset({"ImagePullBackOff"}),
        ),
        KnownPattern(
            "ErrImagePull",
            "pod",
            "The latest attempt to pull the image failed.",
            waiting_reasons=frozenset({"ErrImagePull"}),
        ),
        KnownPattern(
            "CreateContainerConfigError",
            "pod",
            "The container cannot be created from its spec (missing ConfigMap or Secret key).",
            waiting_reasons=frozenset({"CreateContainerConfigError"}),
        ),
        KnownPattern(
            "OOMKilled",
            "pod",
            "A container was killed for exceeding its memory limit (now or as its last exit).",
            terminated_reasons=frozenset({"OOMKilled"}),
        ),
        KnownPattern(
            "RestartsRising",
            "pod",
            "A container's restart count went up since the previous evaluation.",
            restarts_rising=True,
        ),
        KnownPattern(
            "LogLineMatch",
            "log_line",
            "Log lines matching a regular expression, at least min_count per stream.",
            default_regex=r"(?i)\b(panic|fatal|unhandled exception|traceback)\b",
        ),
        KnownPattern(
            "LogCountOverThreshold",
            "log_count",
            "A metric LogQL count (count_over_time) at or above a threshold.",
        ),
    )
}


def get_pattern(pattern: str | KnownPattern) -> KnownPattern:
    if isinstance(pattern, KnownPattern):
        return pattern
    try:
        return KNOWN_PATTERNS[pattern]
    except KeyError:
        raise ValueError(f"unknown pattern {pattern!r}; known: {', '.join(KNOWN_PATTERNS)}") from None


def container_key(namespace: str, pod: str, container: str) -> str:
    """How restart counts are remembered between evaluations (a JSON-friendly string)."""
    return f"{namespace}/{pod}/{container}"


def restart_counts(pods: Iterable[PodState]) -> dict[str, int]:
    """The baseline to pass as ``previous_restarts`` on the next evaluation."""
    return {container_key(p.namespace, p.name, c.name): c.restart_count for p in pods for c in p.containers}


def evaluate_pod_pattern(
    pods: Iterable[PodState],
    pattern: str | KnownPattern,
    previous_restarts: Mapping[str, int] | None = None,
    *,
    since: float | datetime | None = None,
) -> list[Breach]:
    """One ``Breach`` per container showing ``pattern``, labelled namespace/pod/container/reason.

    ``previous_restarts`` (from ``restart_counts`` of the last run) is what RestartsRising
    compares against; with None there is no baseline yet and nothing breaches. A container
    absent from the baseline belongs to a pod created since, so it is compared against zero.
    ``since`` ignores OOM kills that finished before it: an old last state is history, not news.
    """
    spec = get_pattern(pattern)
    if spec.kind != "pod":
        raise ValueError(f"{spec.name} is a log pattern; use evaluate_log_pattern or evaluate_log_count")
    cutoff = timestamp_seconds(since) if since is not None else None
    breaches: list[Breach] = []
    for pod in pods:
        for container in pod.containers:
            breach = _container_breach(spec, pod, container, previous_restarts, cutoff)
            if breach is not None:
                breaches.append(breach)
    return breaches


def _container_breach(
    spec: KnownPattern,
    pod: PodState,
    container: ContainerState,
    previous_restarts: Mapping[str, int] | None,
    cutoff: float | None,
) -> Breach | None:
    labels = {"namespace": pod.namespace, "pod": pod.name, "container": container.name, "reason": spec.name}
    if spec.restarts_rising:
        if previous_restarts is None:
            return None
        before = previous_restarts.get(container_key(pod.namespace, pod.name, container.name), 0)
        increase = container.restart_count - before
        if increase <= 0:
            return None
        return Breach(
            labels=labels,
            value=float(increase),
            reason=f"{container.name} restarted {increase} time(s) since the last check",
            details={"restart_count": container.restart_count},
        )
    if container.waiting_reason in spec.waiting_reasons:
        return Breach(
            labels=labels,
            value=float(container.restart_count),
            reason=f"{container.name} is waiting: {container.waiting_reason}",
            details={"restart_count": container.restart_count},
        )
    if container.terminated_reason in spec.terminated_reasons:
        return Breach(
            labels=labels,
            value=float(container.restart_count),
            reason=f"{container.name} terminated: {container.terminated_reason}",
            details={"restart_count": container.restart_count},
        )
    if container.last_terminated_reason in spec.terminated_reasons:
        at = container.last_terminated_at
        if cutoff is not None and (at is None or at.timestamp() < cutoff):
            return None
        details: dict[str, float | str] = {"restart_count": container.restart_count}
        if at is not None:
            details["last_terminated_at"] = at.isoformat()
        return Breach(
            labels=labels,
            value=float(container.restart_count),
            timestamp=at.timestamp() if at is not None else None,
            reason=f"{container.name} last exited: {container.last_terminated_reason}",
            details=details,
        )
    return None


def evaluate_log_pattern(lines: Iterable[LogLine], regex: str | re.Pattern[str], min_count: int = 1) -> list[Breach]:
    """Per stream (label set), count lines matching ``regex``; breach at ``min_count`` or more."""
    if min_count < 1:
        raise ValueError("min_count must be at least 1")
    compiled = compile_regex(regex)
    counts: dict[tuple[tuple[str, str], ...], tuple[int, LogLine]] = {}
    for line in lines:
        if not compiled.search(line.line):
            continue
        key = tuple(sorted(line.labels.items()))
        count, newest = counts.get(key, (0, line))
        if (line.timestamp_ns, line.timestamp) > (newest.timestamp_ns, newest.timestamp):
            newest = line
        counts[key] = (count + 1, newest)
    return [
        Breach(
            labels=dict(newest.labels),
            value=float(count),
            timestamp=newest.timestamp,
            reason=f"{count} line(s) matching /{compiled.pattern}/",
            details={"example": newest.line[:500]},
        )
        for count, newest in counts.values()
        if count >= min_count
    ]


def evaluate_log_count(samples: Iterable[Sample], min_count: float) -> list[Breach]:
    """A metric LogQL count (``sum by (app) (count_over_time({...} |= "error" [5m]))``) at or over ``min_count``."""
    return evaluate_threshold(samples, ">=", min_count)


def compile_regex(regex: str | re.Pattern[str]) -> re.Pattern[str]:
    if isinstance(regex, re.Pattern):
        return regex
    try:
        return re.compile(regex)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {regex!r}: {exc}") from exc

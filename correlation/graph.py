"""The service dependency graph as plain data: ``{service: [services it calls]}``. Pure.

An edge ``a -> b`` means "a depends on b" (a calls b), as ``Service.depends_on`` says. Walks
are breadth-first and cycle-safe: the incidents app refuses cycles, but a benchmark's call
graph or a stale copy may hold one, and a walk must not loop on it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Literal

DependencyGraph = Mapping[str, Iterable[str]]
Relation = Literal["same", "dependency", "dependent", "unrelated", "unknown"]


def normalize(graph: DependencyGraph) -> dict[str, frozenset[str]]:
    """Every service (callers and callees) mapped to the set of services it calls."""
    edges: dict[str, set[str]] = {}
    for caller, callees in graph.items():
        edges.setdefault(caller, set())
        for callee in callees:
            if callee != caller:
                edges[caller].add(callee)
            edges.setdefault(callee, set())
    return {service: frozenset(callees) for service, callees in edges.items()}


def reverse(graph: DependencyGraph) -> dict[str, frozenset[str]]:
    """Every service mapped to the services that call it."""
    callers: dict[str, set[str]] = {}
    for caller, callees in normalize(graph).items():
        callers.setdefault(caller, set())
        for callee in callees:
            callers.setdefault(callee, set()).add(caller)
    return {service: frozenset(found) for service, found in callers.items()}


def _walk(edges: Mapping[str, Iterable[str]], start: str) -> dict[str, int]:
    depth = {start: 0}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for following in sorted(edges.get(current, ())):
            if following not in depth:
                depth[following] = depth[current] + 1
                queue.append(following)
    del depth[start]
    return depth


def dependencies(graph: DependencyGraph, service: str) -> dict[str, int]:
    """What ``service`` calls, directly (depth 1) or through others, with the shortest depth."""
    return _walk(normalize(graph), service)


def dependents(graph: DependencyGraph, service: str) -> dict[str, int]:
    """What calls ``service``, directly or through others: who feels it when it breaks."""
    return _walk(reverse(graph), service)


def relation(graph: DependencyGraph, symptom: str | None, service: str) -> Relation:
    """Where ``service`` sits relative to the service showing the symptom."""
    if symptom is None:
        return "unknown"
    if service == symptom:
        return "same"
    if service in dependencies(graph, symptom):
        return "dependency"
    if service in dependents(graph, symptom):
        return "dependent"
    return "unrelated"

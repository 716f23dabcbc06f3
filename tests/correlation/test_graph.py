"""The dependency graph walks: transitive, nearest first, cycle-safe."""

from __future__ import annotations

import pytest

from correlation.graph import dependencies, dependents, relation

SHOP = {"frontend": ["checkout", "search"], "checkout": ["payments", "inventory"], "payments": ["db"], "search": []}


@pytest.mark.parametrize(
    "service, expected",
    [
        ("frontend", {"checkout": 1, "search": 1, "payments": 2, "inventory": 2, "db": 3}),
        ("checkout", {"payments": 1, "inventory": 1, "db": 2}),
        ("db", {}),
        ("unknown", {}),
    ],
)
def test_dependencies_are_transitive_with_their_shortest_depth(service, expected):
    assert dependencies(SHOP, service) == expected


@pytest.mark.parametrize(
    "service, expected",
    [("db", {"payments": 1, "checkout": 2, "frontend": 3}), ("frontend", {}), ("search", {"frontend": 1})],
)
def test_dependents_walk_the_graph_backwards(service, expected):
    assert dependents(SHOP, service) == expected


@pytest.mark.parametrize(
    "symptom, service, expected",
    [
        ("checkout", "checkout", "same"),
        ("checkout", "db", "dependency"),
        ("checkout", "frontend", "dependent"),
        ("checkout", "search", "unrelated"),
        (None, "checkout", "unknown"),
    ],
)
def test_relation_to_the_symptom(symptom, service, expected):
    assert relation(SHOP, symptom, service) == expected


def test_a_cycle_does_not_loop_and_a_self_edge_is_ignored():
    cyclic = {"a": ["b"], "b": ["c"], "c": ["a", "c"]}
    assert dependencies(cyclic, "a") == {"b": 1, "c": 2}
    assert dependents(cyclic, "a") == {"c": 1, "b": 2}

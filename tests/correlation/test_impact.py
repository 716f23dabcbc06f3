"""Suggested severity and blast radius: table-driven, including the exact thresholds."""

from __future__ import annotations

import math

import pytest

from correlation.impact import assess_impact, blast_radius, suggest_severity

SHOP = {"frontend": ["checkout"], "mobile-api": ["checkout"], "checkout": ["payments"], "admin": ["frontend"]}


@pytest.mark.parametrize(
    "share, dependents, pods, total, expected",
    [
        (None, 0, 0, None, "low"),
        (0.0, 5, 0, 3, "low"),
        (math.nan, 0, 0, None, "low"),
        (0.009, 0, 0, None, "low"),
        (0.01, 0, 0, None, "medium"),
        (0.049, 0, 0, None, "medium"),
        (0.05, 0, 0, None, "high"),
        (0.002, 3, 0, None, "high"),
        (0.10, 3, 0, None, "critical"),
        (0.10, 2, 0, None, "high"),
        (0.25, 0, 0, None, "critical"),
        (None, 0, 1, 4, "medium"),
        (None, 0, 2, 4, "high"),
        (None, 0, 3, 3, "critical"),
        (0.02, 0, 3, 3, "critical"),
    ],
)
def test_suggested_severity(share, dependents, pods, total, expected):
    severity, reasons = suggest_severity(failing_share=share, dependents=dependents, pods_affected=pods,
                                         pods_total=total)
    assert severity == expected
    assert reasons


def test_blast_radius_is_the_service_then_its_callers_nearest_first():
    assert [(a.service, a.depth) for a in blast_radius(SHOP, "payments")] == [
        ("payments", 0), ("checkout", 1), ("frontend", 2), ("mobile-api", 2), ("admin", 3),
    ]
    assert [(a.service, a.depth) for a in blast_radius(SHOP, "admin")] == [("admin", 0)]


def test_assess_impact_combines_the_facts():
    impact = assess_impact(service="checkout", graph=SHOP, failing_share=0.12, failing_share_peak=0.2,
                           pods_affected=["b", "a"], pods_total=4).as_dict()
    assert impact["suggested_severity"] == "critical"  # 12 % failing with three services behind it
    assert impact["dependents"] == ["frontend", "mobile-api", "admin"]
    assert impact["pods_affected"] == ["a", "b"]
    assert impact["reasons"] == ["12.0% of requests failing with 3 services depending on it", "2 of 4 pods unhealthy"]


def test_no_service_means_no_radius():
    impact = assess_impact(service=None, graph=SHOP)
    assert impact.blast_radius == () and impact.suggested_severity == "low"

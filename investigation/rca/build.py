"""``build_rca(context)``: the analysis as a JSON-ready dict. Pure.

The root cause is the confirmed hypothesis when there is one, else the top-ranked correlation,
marked unconfirmed; the confidence says which and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from investigation.rca.context import CorrelationInfo, HypothesisInfo, RCAContext, StepInfo

MAX_TIMELINE = 40
MAX_FACTORS = 5
MAX_EVIDENCE = 10
MAX_ACTION_ITEMS = 10
UNCONFIRMED_DISCOUNT = 0.6
SLOW_DETECTION_SECONDS = 300
# Parts of the analysis that change while nothing else does (an ongoing incident's duration):
# a new version is stored only when something besides these changed.
VOLATILE_KEYS = ("generated_at", "version")
VOLATILE_IMPACT_KEYS = ("ended_at", "duration_seconds", "duration")


def build_rca(context: RCAContext) -> dict[str, Any]:
    incident = context.incident
    root, root_hypothesis, root_correlation = _root_cause(context)
    impact = _impact(context)
    detection = _detection(context)
    factors = _factors(context, root_hypothesis, root_correlation)
    evidence = _evidence(context, root_hypothesis)
    confidence = _confidence(root, root_hypothesis, root_correlation, context)
    return {
        "title": f"Postmortem: {incident.title}",
        "generated_at": context.now.isoformat(),
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "severity": incident.severity,
            "status": incident.status,
            "service": incident.service,
            "team": incident.team,
            "commander": incident.commander,
            "url": incident.url,
        },
        "summary": _summary(context, root, impact, detection),
        "impact": impact,
        "detection": detection,
        "timeline": _timeline(context),
        "root_cause": root,
        "contributing_factors": factors,
        "evidence": evidence,
        "confidence": confidence,
        "hypotheses": [
            {"id": h.id, "title": h.title, "status": h.status, "confidence": h.confidence} for h in context.hypotheses
        ],
        "action_items": _action_items(context, root, detection),
    }


def stable_view(rca: Mapping[str, Any]) -> dict[str, Any]:
    """The analysis without what changes by the clock alone; equal views mean nothing new."""
    view = {k: v for k, v in rca.items() if k not in VOLATILE_KEYS}
    view["impact"] = {k: v for k, v in (rca.get("impact") or {}).items() if k not in VOLATILE_IMPACT_KEYS}
    return view


def _root_cause(
    context: RCAContext,
) -> tuple[dict[str, Any], HypothesisInfo | None, CorrelationInfo | None]:
    confirmed = _confirmed(context)
    if confirmed:
        best = confirmed[0]
        return (
            {
                "status": "confirmed",
                "title": best.title,
                "description": best.description,
                "conclusion": best.conclusion,
                "confidence": best.confidence,
                "hypothesis": best.id,
                "correlation": None,
            },
            best,
            None,
        )
    if context.correlations:
        top = sorted(context.correlations, key=lambda c: (not c.is_root_cause_candidate, _rank(c)))[0]
        return (
            {
                "status": "unconfirmed",
                "title": top.title,
                "description": top.detail,
                "conclusion": "Not confirmed: the highest-ranked correlation, until a hypothesis about it is "
                "confirmed.",
                "confidence": top.confidence,
                "hypothesis": None,
                "correlation": top.id,
            },
            None,
            top,
        )
    return (
        {
            "status": "unknown",
            "title": "No root cause identified yet",
            "description": "",
            "conclusion": "No hypothesis is confirmed and no correlation points at a cause.",
            "confidence": 0.0,
            "hypothesis": None,
            "correlation": None,
        },
        None,
        None,
    )


def _confirmed(context: RCAContext) -> list[HypothesisInfo]:
    confirmed = [h for h in context.hypotheses if h.status == "confirmed"]
    # Most confident first; among equals, the latest conclusion.
    confirmed.sort(key=lambda h: (-h.confidence, -(h.concluded_at.timestamp() if h.concluded_at else 0.0)))
    return confirmed


def _rank(correlation: CorrelationInfo) -> tuple[int, float]:
    return (correlation.rank if correlation.rank is not None else 1_000_000, -correlation.confidence)


def _impact(context: RCAContext) -> dict[str, Any]:
    incident = context.incident
    starts = [t for t in [incident.impact_started_at, *(a.active_since for a in context.alerts)] if t]
    started = min(starts) if starts else incident.detected_at
    started = min(started, incident.detected_at)
    ended = incident.resolved_at or context.now
    seconds = max((ended - started).total_seconds(), 0.0)
    blast = [entry.get("service") for entry in context.impact.get("blast_radius") or [] if isinstance(entry, Mapping)]
    services = [s for s in blast if s] or ([incident.service] if incident.service else [])
    mitigated = incident.mitigated_at or incident.resolved_at
    return {
        "started_at": started.isoformat(),
        "detected_at": incident.detected_at.isoformat(),
        "mitigated_at": incident.mitigated_at.isoformat() if incident.mitigated_at else None,
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "ended_at": ended.isoformat(),
        "ongoing": incident.resolved_at is None,
        "duration_seconds": round(seconds, 3),
        "duration": human_duration(seconds),
        "time_to_mitigate_seconds": round((mitigated - started).total_seconds(), 3) if mitigated else None,
        "services": services,
        "blast_radius": list(context.impact.get("blast_radius") or []),
        "failing_share": context.impact.get("failing_share"),
        "failing_share_peak": context.impact.get("failing_share_peak"),
        "pods_affected": list(context.impact.get("pods_affected") or []),
        "suggested_severity": context.impact.get("suggested_severity"),
    }


def _detection(context: RCAContext) -> dict[str, Any]:
    incident = context.incident
    fired = sorted((a for a in context.alerts), key=lambda a: a.fired_at or a.active_since or incident.detected_at)
    first = fired[0] if fired else None
    latency = first.detection_latency_seconds if first else None
    if latency is None and incident.impact_started_at is not None:
        latency = max((incident.detected_at - incident.impact_started_at).total_seconds(), 0.0)
    acknowledged = incident.acknowledged_at
    return {
        "source": incident.source,
        "rule": first.rule if first else None,
        "query": first.query if first else None,
        "condition": f"{first.comparator} {first.threshold:g}" if first and first.threshold is not None else None,
        "value": first.value if first else None,
        "detected_at": incident.detected_at.isoformat(),
        "detection_latency_seconds": round(latency, 3) if latency is not None else None,
        "time_to_acknowledge_seconds": round((acknowledged - incident.detected_at).total_seconds(), 3)
        if acknowledged
        else None,
        "alerts": len(context.alerts),
    }


def _timeline(context: RCAContext) -> list[dict[str, Any]]:
    entries = [e for e in context.timeline if e.kind != "rca_generated"]
    entries.sort(key=lambda e: e.at)
    shown = entries[:MAX_TIMELINE]
    listed = [{"at": e.at.isoformat(), "kind": e.kind, "message": e.message, "actor": e.actor} for e in shown]
    if len(entries) > MAX_TIMELINE:
        listed.append(
            {
                "at": entries[-1].at.isoformat(),
                "kind": "more",
                "message": f"{len(entries) - MAX_TIMELINE} more events in the incident's timeline",
                "actor": "",
            }
        )
    return listed


def _factors(
    context: RCAContext, root_hypothesis: HypothesisInfo | None, root_correlation: CorrelationInfo | None
) -> list[dict[str, Any]]:
    factors: list[dict[str, Any]] = []
    for other in _confirmed(context)[1:]:
        factors.append({"title": other.title, "kind": "hypothesis", "id": other.id, "confidence": other.confidence})
    # Correlations linked to the root cause are its evidence (supporting) or ruled out (refuting).
    linked = {link.correlation_id for link in (root_hypothesis.evidence if root_hypothesis else ())}
    for correlation in sorted(context.correlations, key=_rank):
        if root_correlation is not None and correlation.id == root_correlation.id:
            continue
        if correlation.id in linked or correlation.confidence < 0.4:
            continue
        factors.append(
            {
                "title": correlation.title,
                "kind": correlation.kind,
                "id": correlation.id,
                "confidence": correlation.confidence,
            }
        )
    return factors[:MAX_FACTORS]


def _evidence(context: RCAContext, root_hypothesis: HypothesisInfo | None) -> list[dict[str, Any]]:
    steps = {s.id: s for s in context.steps}
    correlations = {c.id: c for c in context.correlations}
    items: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for link in root_hypothesis.evidence if root_hypothesis else ():
        if link.step_id is not None and link.step_id in steps:
            items.append(_step_evidence(steps[link.step_id], relation=link.relation))
            seen.add(("step", link.step_id))
        elif link.correlation_id is not None and link.correlation_id in correlations:
            items.append(_correlation_evidence(correlations[link.correlation_id], relation=link.relation))
            seen.add(("correlation", link.correlation_id))
    for step in context.steps:
        if step.status == "completed" and ("step", step.id) not in seen:
            items.append(_step_evidence(step, relation=_relation_of(step, root_hypothesis)))
    for correlation in sorted(context.correlations, key=_rank):
        if ("correlation", correlation.id) not in seen:
            items.append(_correlation_evidence(correlation, relation=None))
    return items[:MAX_EVIDENCE]


def _relation_of(step: StepInfo, root_hypothesis: HypothesisInfo | None) -> str | None:
    if (
        root_hypothesis is not None
        and step.hypothesis_id == root_hypothesis.id
        and step.verdict in ("supports", "refutes")
    ):
        return step.verdict
    return None


def _step_evidence(step: StepInfo, *, relation: str | None) -> dict[str, Any]:
    return {
        "type": "step",
        "id": step.id,
        "title": step.title,
        "action": step.action,
        "relation": relation,
        "summary": step.summary,
        "link": step.link,
        "links": list(step.links),
    }


def _correlation_evidence(correlation: CorrelationInfo, *, relation: str | None) -> dict[str, Any]:
    return {
        "type": "correlation",
        "id": correlation.id,
        "title": correlation.title,
        "kind": correlation.kind,
        "relation": relation,
        "summary": correlation.detail,
        "confidence": correlation.confidence,
        "source": correlation.source,
        "link": correlation.link,
        "links": [],
    }


def _confidence(
    root: Mapping[str, Any],
    hypothesis: HypothesisInfo | None,
    correlation: CorrelationInfo | None,
    context: RCAContext,
) -> dict[str, Any]:
    if hypothesis is not None:
        supports = [link for link in hypothesis.evidence if link.relation == "supports"]
        refutes = [link for link in hypothesis.evidence if link.relation == "refutes"]
        tests = [s for s in context.steps if s.hypothesis_id == hypothesis.id and s.verdict == "supports"]
        score = _clamp(hypothesis.confidence + 0.05 * min(len(supports), 4) - 0.1 * len(refutes))
        explanation = (
            f"The root cause is a confirmed hypothesis, stated with {hypothesis.confidence:.0%} confidence. "
            f"{_count(len(supports), 'piece')} of evidence support it"
            + (f", including {_count(len(tests), 'passing test')}" if tests else "")
            + f"; {_count(len(refutes), 'piece')} refute it."
        )
    elif correlation is not None:
        score = _clamp(correlation.confidence * UNCONFIRMED_DISCOUNT)
        explanation = (
            f"No hypothesis is confirmed: the root cause is the top-ranked correlation ({correlation.confidence:.0%} "
            f"confident), discounted by {1 - UNCONFIRMED_DISCOUNT:.0%} until a person or a test confirms it."
        )
    else:
        score = 0.0
        explanation = "Nothing points at a cause yet: no confirmed hypothesis and no correlation."
    return {"score": round(score, 3), "level": _level(score), "explanation": explanation}


def _action_items(context: RCAContext, root: Mapping[str, Any], detection: Mapping[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if root["status"] == "unconfirmed":
        items.append(
            {
                "title": f"Confirm or rule out the suspected cause: {root['title']}",
                "reason": "The root cause above is the best lead, not a verified cause: add a hypothesis "
                "and a test_hypothesis step.",
                "priority": "high",
            }
        )
    elif root["status"] == "unknown":
        items.append(
            {
                "title": "Find the root cause",
                "reason": "Nothing points at a cause yet: propose hypotheses and run the guided steps.",
                "priority": "high",
            }
        )
    elif context.incident.status == "resolved":
        items.append(
            {
                "title": f"Prevent a recurrence of: {root['title']}",
                "reason": "The cause is confirmed and the incident resolved; the fix that stops it coming back "
                "is the postmortem's main outcome.",
                "priority": "high",
            }
        )
    latency = detection.get("detection_latency_seconds")
    if detection.get("rule") is None and context.incident.source == "manual":
        items.append(
            {
                "title": "Add a detection rule for this failure",
                "reason": "A person declared this incident; no rule caught it.",
                "priority": "medium",
            }
        )
    elif latency is not None and latency > SLOW_DETECTION_SECONDS:
        items.append(
            {
                "title": "Detect this failure sooner",
                "reason": f"Detection took {human_duration(latency)}; tighten the rule's threshold or its "
                "'for' duration.",
                "priority": "medium",
            }
        )
    for step in context.steps:
        if step.status == "failed":
            items.append(
                {
                    "title": f"Re-run the failed step: {step.title}",
                    "reason": step.error or step.summary or "It failed without a cause.",
                    "priority": "low",
                }
            )
    for recommendation in context.recommendations:
        if recommendation.get("category") == "process" and context.incident.status == "resolved":
            continue
        items.append(
            {
                "title": recommendation["title"],
                "reason": recommendation["reason"],
                "priority": recommendation["priority"],
            }
        )
    order = ("critical", "high", "medium", "low")
    unique: dict[str, dict[str, Any]] = {}
    for item in items:
        unique.setdefault(item["title"], item)
    ranked = sorted(unique.values(), key=lambda i: order.index(i["priority"]) if i["priority"] in order else 9)
    return ranked[:MAX_ACTION_ITEMS]


def _summary(
    context: RCAContext, root: Mapping[str, Any], impact: Mapping[str, Any], detection: Mapping[str, Any]
) -> str:
    incident = context.incident
    where = f" on {incident.service_name or incident.service}" if incident.service else ""
    by = (
        f"rule {detection['rule']}"
        if detection.get("rule")
        else {"manual": "a person", "webhook": "an alert webhook"}.get(incident.source, incident.source)
    )
    # No running duration here: the summary must not change by the clock alone (see stable_view).
    state = f"resolved after {impact['duration']}" if incident.status == "resolved" else f"still {incident.status}"
    parts = [
        f"{incident.severity.capitalize()} incident{where}: {incident.title}.",
        f"Detected at {clock(incident.detected_at)} by {by}; {state}.",
    ]
    others = [s for s in impact["services"] if s != incident.service]
    if others:
        parts.append(f"Also affected: {', '.join(others)}.")
    share = impact.get("failing_share_peak") or impact.get("failing_share")
    if isinstance(share, (int, float)):
        parts.append(f"At worst {share:.0%} of requests failed.")
    if root["status"] == "confirmed":
        parts.append(f"Root cause (confirmed): {root['title']}.")
    elif root["status"] == "unconfirmed":
        parts.append(f"Suspected root cause (unconfirmed): {root['title']}.")
    else:
        parts.append("The root cause is not identified yet.")
    return " ".join(parts)


def human_duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def clock(value: datetime) -> str:
    if value.utcoffset() is None:
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _clamp(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _level(score: float) -> str:
    if score >= 0.75:
        return "high"
    if score >= 0.5:
        return "medium"
    if score > 0:
        return "low"
    return "none"

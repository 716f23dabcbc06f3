"""``render_markdown(rca)``: the analysis as a postmortem document. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from investigation.rca.build import clock, human_duration


def render_markdown(rca: Mapping[str, Any]) -> str:
    incident = rca["incident"]
    impact = rca["impact"]
    detection = rca["detection"]
    root = rca["root_cause"]
    confidence = rca["confidence"]
    lines: list[str] = [f"# {rca['title']} (incident #{incident['id']})", ""]
    meta = [f"Severity: **{incident['severity']}**", f"status: **{incident['status']}**"]
    if incident.get("service"):
        meta.append(f"service: **{incident['service']}**")
    if incident.get("commander"):
        meta.append(f"commander: {incident['commander']}")
    version = f"RCA version {rca['version']}, " if rca.get("version") else ""
    lines += [" · ".join(meta), "", f"_{version}generated {_clock_iso(rca['generated_at'])}_", ""]

    lines += ["## Summary", "", rca["summary"], ""]

    lines += ["## Impact", "", "| | |", "|---|---|"]
    rows = [
        ("Started", _clock_iso(impact["started_at"])),
        ("Detected", _clock_iso(impact["detected_at"])),
        ("Mitigated", _clock_iso(impact["mitigated_at"]) if impact.get("mitigated_at") else "—"),
        ("Resolved", _clock_iso(impact["resolved_at"]) if impact.get("resolved_at") else "not yet (ongoing)"),
        ("Duration", impact["duration"] + (" so far" if impact["ongoing"] else "")),
        ("Services", ", ".join(impact["services"]) or "unknown"),
        ("Blast radius", _blast(impact["blast_radius"]) or "—"),
    ]
    share = impact.get("failing_share_peak") or impact.get("failing_share")
    if isinstance(share, (int, float)):
        rows.append(("Failing requests (peak)", f"{share:.1%}"))
    if impact.get("pods_affected"):
        rows.append(("Pods affected", ", ".join(impact["pods_affected"][:10])))
    lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in rows] + [""]

    lines += ["## Detection", ""]
    if detection.get("rule"):
        rule = f"- Rule: **{_inline(detection['rule'])}**"
        if detection.get("query"):
            rule += f" — `{_code(detection['query'])}`"
            if detection.get("condition"):
                rule += f" {detection['condition']}"
        lines.append(rule)
        if detection.get("value") is not None:
            lines.append(f"- Value when it fired: {detection['value']:.4g}")
    else:
        lines.append(f"- Source: {detection['source']} (no detection rule fired)")
    lines.append(f"- Detected: {_clock_iso(detection['detected_at'])}")
    latency = detection.get("detection_latency_seconds")
    lines.append(f"- Detection latency: {human_duration(latency) if latency is not None else 'unknown'}")
    ack = detection.get("time_to_acknowledge_seconds")
    lines += [f"- Time to acknowledge: {human_duration(ack) if ack is not None else 'not acknowledged'}", ""]

    lines += ["## Timeline", "", "| Time (UTC) | Event | By |", "|---|---|---|"]
    for entry in rca["timeline"]:
        message = entry["message"] or entry["kind"].replace("_", " ")
        lines.append(f"| {_clock_iso(entry['at'])} | {_cell(message)} | {_cell(entry['actor'] or '—')} |")
    lines.append("")

    lines += ["## Root cause", ""]
    label = {"confirmed": "Confirmed", "unconfirmed": "Unconfirmed", "unknown": "Unknown"}[root["status"]]
    lines.append(f"**{label}:** {_inline(root['title'])} (confidence {root['confidence']:.0%})")
    if root.get("description"):
        lines += ["", root["description"]]
    if root.get("conclusion"):
        lines += ["", f"> {root['conclusion']}"]
    lines.append("")

    lines += ["## Contributing factors", ""]
    if rca["contributing_factors"]:
        lines += [f"- {_inline(f['title'])} ({f['kind']}, {f['confidence']:.0%})" for f in rca["contributing_factors"]]
    else:
        lines.append("- None identified.")
    lines.append("")

    lines += ["## Evidence", ""]
    if rca["evidence"]:
        for item in rca["evidence"]:
            title = _inline(item["title"])
            title = f"[{title}]({item['link']})" if item.get("link") else title
            relation = f" — **{item['relation']}** the root cause" if item.get("relation") else ""
            summary = f": {_inline(item['summary'])}" if item.get("summary") else ""
            lines.append(f"- {item['type'].capitalize()} {title}{relation}{summary}")
            lines += [f"  - <{link}>" for link in item.get("links", [])[:3]]
    else:
        lines.append("- No evidence gathered yet.")
    lines.append("")

    lines += [
        "## Confidence",
        "",
        f"**{confidence['level'].capitalize()} ({confidence['score']:.0%}).** {confidence['explanation']}",
        "",
    ]

    lines += ["## Action items", ""]
    if rca["action_items"]:
        lines += [
            f"- [ ] **{item['priority'].capitalize()}** — {_inline(item['title'])}. _{_inline(item['reason'])}_"
            for item in rca["action_items"]
        ]
    else:
        lines.append("- None.")
    return "\n".join(lines).rstrip() + "\n"


def _clock_iso(value: str | None) -> str:
    if not value:
        return "—"
    return clock(datetime.fromisoformat(value))


def _blast(entries: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(
        f"{e.get('service')}" + (f" (depth {e.get('depth')})" if e.get("depth") else "")
        for e in entries
        if isinstance(e, Mapping)
    )


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _inline(text: Any) -> str:
    return str(text).replace("\n", " ")


def _code(text: str) -> str:
    return text.replace("`", "'").replace("\n", " ")

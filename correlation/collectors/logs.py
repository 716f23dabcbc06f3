"""Error lines from Loki, grouped into templates (Drain3), new or spiking against the baseline.

One miner sees the baseline's lines first and the window's after, so a template's group id is
the same in both and counts compare like with like. A template is a finding when it is new
(absent from the baseline, seen at least ``MIN_NEW`` times) or spiking (its rate per second at
least ``SPIKE_RATIO`` times the baseline's, seen at least ``MIN_SPIKE`` times).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from correlation.collectors.base import ClientFactory, CollectContext, CollectorResult, ServiceRef, Window
from correlation.logs.templates import LogTemplateMiner
from correlation.scoring import Finding
from detection.sources.base import LogLine, SourceError

MIN_NEW = 2
MIN_SPIKE = 5
SPIKE_RATIO = 3.0
MAX_FINDINGS_PER_SERVICE = 5
MAX_EXAMPLES = 3
# Lines that name a crash outright point harder at a cause than a generic "error".
SEVERE = re.compile(r"(?i)\b(panic|fatal|segfault|out of memory|oom|traceback|exception|deadlock)\b")


@dataclass
class LogsCollector:
    client_factory: ClientFactory
    source: str
    name: str = "logs"
    kinds: frozenset[str] = frozenset({"logs"})

    def collect(self, context: CollectContext) -> CollectorResult:
        client = self.client_factory()
        window = context.window
        result = CollectorResult()
        for service in context.services:
            query = f"{service.log_selector()} |~ `{context.options.log_error_pattern}`"
            try:
                current = self._read(client, query, window.start, window.end, context.options.log_limit, result)
                baseline = self._read(
                    client, query, window.baseline_start, window.start, context.options.log_limit, result
                )
            except SourceError as exc:
                if service is context.service:
                    raise
                result.notes.append(f"logs of {service.slug} could not be read: {exc.message}")
                continue
            result.findings += self._findings(service, query, baseline, current, window)
            if service is context.service:
                result.facts.update({"error_lines": len(current), "baseline_error_lines": len(baseline)})
        return result

    def _read(
        self, client: Any, query: str, start: float, end: float, limit: int, result: CollectorResult
    ) -> list[LogLine]:
        lines = client.logs(query, start, end, limit=limit, direction="backward")
        if len(lines) >= limit:
            result.notes.append(f"{query}: the newest {limit} lines only; older ones were not read")
        # Loki was asked for [start, end]; a proxy or a cache may answer more.
        inside = [line for line in lines if start <= line.timestamp <= end]
        inside.sort(key=lambda line: line.timestamp_ns or line.timestamp)
        return inside

    def _findings(
        self, service: ServiceRef, query: str, baseline: list[LogLine], current: list[LogLine], window: Window
    ) -> list[Finding]:
        if not current:
            return []
        miner = LogTemplateMiner(max_examples=0)
        before: Counter[int] = Counter()
        for line in baseline:
            cluster_id, _ = miner.add(line.line)
            before[cluster_id] += 1
        now: Counter[int] = Counter()
        first_seen: dict[int, float] = {}
        examples: dict[int, list[str]] = {}
        for line in current:
            cluster_id, _ = miner.add(line.line)
            now[cluster_id] += 1
            first_seen.setdefault(cluster_id, line.timestamp)
            kept = examples.setdefault(cluster_id, [])
            if len(kept) < MAX_EXAMPLES:
                kept.append(line.line[:500])
        templates = {t.id: t.template for t in miner.templates()}

        window_seconds = max(window.end - window.start, 1.0)
        baseline_seconds = max(window.start - window.baseline_start, 1.0)
        candidates: list[tuple[float, Finding]] = []
        for cluster_id, count in now.items():
            template = templates.get(cluster_id)
            if template is None:  # evicted by Drain's LRU: too rare to matter
                continue
            base = before.get(cluster_id, 0)
            rate_now, rate_before = count / window_seconds, base / baseline_seconds
            if base == 0 and count >= MIN_NEW:
                signal, magnitude, specificity = "new_log_template", 0.5 + 0.5 * min(1.0, count / 20), 0.65
                summary = f"new since the baseline, {count} lines"
            elif base > 0 and count >= MIN_SPIKE and rate_now >= SPIKE_RATIO * rate_before:
                ratio = rate_now / rate_before
                signal, magnitude, specificity = "log_template_spike", 1.0 - 1.0 / ratio, 0.5
                summary = f"{ratio:.1f}× its baseline rate, {count} lines (baseline {base})"
            else:
                continue
            if SEVERE.search(template):
                specificity += 0.15
            digest = hashlib.sha1(template.encode(), usedforsecurity=False).hexdigest()[:12]
            finding = Finding(
                service=service.slug,
                kind="logs",
                signal=signal,
                key=f"logs:{service.slug}:{digest}",
                onset=first_seen[cluster_id],
                magnitude=magnitude,
                specificity=specificity,
                source=self.source,
                title=f"{service.name} logs: {_clip(template, 160)}",
                detail=f"Error log template {summary}.",
                magnitude_why=summary,
                evidence={
                    "query": query,
                    "template": template,
                    "count": count,
                    "baseline_count": base,
                    "first_seen": first_seen[cluster_id],
                    "examples": examples.get(cluster_id, []),
                },
            )
            candidates.append((magnitude * specificity * count, finding))
        candidates.sort(key=lambda item: -item[0])
        return [finding for _, finding in candidates[:MAX_FINDINGS_PER_SERVICE]]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

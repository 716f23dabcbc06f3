"""Root-cause ranking quality: the production correlation scoring on Nezha's injected faults.

    python bench/rca_nezha.py [--data DIR] [--verbose]

For every day folder ``DIR/rca_data/<day>/`` with a ``<day>-fault_list.json`` (default DIR:
``../shared/benchmarks/rca/nezha`` from the repository root), each injected fault is ranked
the way production ranks an incident. Every service's metric series over the fault's window
go through ``correlation.changes.finding_from_series`` (the production change detector); the
findings, the day's call graph and the entry service as the symptom go through
``correlation.scoring.rank_services``; AS@1, AS@3 and AS@5 against the injected pod's service
come from ``correlation.quality.as_at_k``.

Metrics only, one policy for every case, nothing tuned per case or per fault type:

- window: the baseline is the 30 minutes before ``inject_time``, the incident the 5 minutes
  after it (faults were injected about nine minutes apart, so the next one is never inside);
- signals: each pod's CPU, memory, p95 server latency and workload, the entry's error ratio and
  p95 latency, and each call's latency as its caller and its callee measured it (on the callee);
- symptom: the entry service, from its start as ``correlation.scoring.symptom_onset`` finds it
  in the entry's own SLIs, or ``inject_time`` when they did not move.

The last line of output is one JSON object ``{"AS@1": .., "AS@3": .., "AS@5": .., "cases": n}``
(fractions 0..1) over every fault of every day folder found.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.nezhalib import DEFAULT_DATA, Day, Fault, Points, day_folders, load_day  # noqa: E402
from correlation.changes import SIGNALS, SignalSpec, finding_from_series  # noqa: E402
from correlation.quality import as_at_k  # noqa: E402
from correlation.scoring import Finding, RankedCause, rank_services, symptom_onset  # noqa: E402

SOURCE = "nezha"
BASELINE_SECONDS = 30 * 60
WINDOW_SECONDS = 5 * 60
KS = (1, 3, 5)
PUBLISHED_AS1 = {"MicroRCA (metrics)": 0.1607, "PDiagnose (metrics, logs, traces)": 0.4107}

# CPU and memory are percent of the pod's limit here (production's specs: cores and bytes, with
# floors for real clusters; these pods use a few millicores) and the workload is ops/s, so
# those specs restate production's in these units, as ``finding_from_series`` allows. Latency
# is in seconds and the entry's errors a ratio, as in production: those keep production's specs.
SPECS: dict[str, SignalSpec] = {
    "cpu": SignalSpec("cpu", "CPU usage", "%", "up", abs_floor=5.0, rel_floor=0.3, specificity=0.45),
    "memory": SignalSpec("memory", "memory usage", "%", "up", abs_floor=2.0, rel_floor=0.2, specificity=0.5),
    "request_rate": SignalSpec(
        "request_rate", "workload", "ops/s", "both", abs_floor=0.5, rel_floor=0.3, specificity=0.3
    ),
    "p95_latency": SIGNALS["p95_latency"],
    "span_p95_latency": SIGNALS["span_p95_latency"],
    "error_ratio": SIGNALS["error_ratio"],
}
# The pod CSV column behind each signal. ``PodSuccessRate(%)`` is 0 in every row of the
# published files, so it carries nothing; the entry's ``SuccessRate(%)`` does.
POD_COLUMNS: dict[str, str] = {
    "cpu": "CpuUsageRate(%)",
    "memory": "MemoryUsageRate(%)",
    "p95_latency": "PodServerLatencyP95(s)",
    "request_rate": "PodWorkload(Ops)",
}


@dataclass(frozen=True)
class CaseResult:
    fault: Fault
    causes: list[RankedCause]
    symptom_start: float
    symptom_moved: bool
    findings: int

    @property
    def ranking(self) -> list[str]:
        return [c.service for c in self.causes]

    @property
    def rank(self) -> int | None:
        ranking = self.ranking
        return ranking.index(self.fault.service) + 1 if self.fault.service in ranking else None


def window(points: Points, fault: Fault) -> Points:
    start, end = fault.inject_at - BASELINE_SECONDS, fault.inject_at + WINDOW_SECONDS
    return [p for p in points if start <= p[0] <= end]


def entry_findings(day: Day, fault: Fault) -> list[Finding]:
    """The entry service's error ratio and p95 latency: the incident's own golden signals."""
    series = {
        "error_ratio": [(t, 1.0 - v / 100.0) for t, v in day.front.get("SuccessRate(%)", [])],
        "p95_latency": day.front.get("LatencyP95(s)", []),
    }
    found = (
        finding_from_series(
            service=day.entry,
            signal=signal,
            points=window(points, fault),
            baseline_end=fault.inject_at,
            spec=SPECS[signal],
            source=SOURCE,
            key=f"metrics:{day.entry}:{signal}:entry",
            evidence={"file": "front_service.csv"},
        )
        for signal, points in series.items()
    )
    return [f for f in found if f is not None]


def service_findings(day: Day, fault: Fault) -> list[Finding]:
    """Every pod and call series that moved in the fault's window."""
    findings: list[Finding | None] = []
    for service, pods in day.pods.items():
        for pod, columns in pods.items():
            for signal, column in POD_COLUMNS.items():
                if column in columns:
                    findings.append(
                        finding_from_series(
                            service=service,
                            signal=signal,
                            points=window(columns[column], fault),
                            baseline_end=fault.inject_at,
                            spec=SPECS[signal],
                            source=SOURCE,
                            key=f"metrics:{service}:{signal}:{pod}",
                            evidence={"pod": pod, "column": column},
                        )
                    )
    # A call's latency is evidence on the service called, from both ends: as its callee served
    # it (a server span) and as its caller waited for it, which also holds the network between
    # them, where a server-side measure does not see a delayed or dropped packet.
    for side, edges in (("caller", day.edge_source), ("callee", day.edge_destination)):
        for (caller, callee), points in edges.items():
            findings.append(
                finding_from_series(
                    service=callee,
                    signal="span_p95_latency",
                    kind="traces",
                    points=window(points, fault),
                    baseline_end=fault.inject_at,
                    spec=SPECS["span_p95_latency"],
                    source=SOURCE,
                    subject=f"calls from {caller}, {side} side",
                    evidence={"caller": caller, "callee": callee, "side": side},
                )
            )
    return [f for f in findings if f is not None]


def rank_case(day: Day, fault: Fault) -> CaseResult:
    symptom = entry_findings(day, fault)
    findings = symptom + service_findings(day, fault)
    start = symptom_onset(symptom, day.entry, fallback=fault.inject_at)
    causes = rank_services(findings, day.graph, symptom_service=day.entry, symptom_start=start)
    return CaseResult(
        fault=fault,
        causes=causes,
        symptom_start=start,
        symptom_moved=bool(symptom),
        findings=len(findings),
    )


def figures(results: list[CaseResult]) -> dict[str, float]:
    rankings = [r.ranking for r in results]
    truths = [r.fault.service for r in results]
    return {f"AS@{k}": round(as_at_k(rankings, truths, k), 4) for k in KS}


def print_case(r: CaseResult) -> None:
    rank = "-" if r.rank is None else str(r.rank)
    symptom = f"{(r.symptom_start - r.fault.inject_at) / 60:+.1f} min" if r.symptom_moved else "none"
    top = ", ".join(f"{c.service} {c.confidence:.2f}" for c in r.causes[:3]) or "(no findings)"
    print(
        f"{r.fault.inject_time}  {r.fault.service:<22} {r.fault.fault_type:<15} rank {rank:>2}"
        f"  symptom {symptom:>8}  {r.findings:>3} findings  top: {top}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a Nezha-shaped folder (holds rca_data/)")
    parser.add_argument("--verbose", action="store_true", help="one line per case: the truth's rank, the top 3")
    args = parser.parse_args(argv)
    folders = day_folders(args.data)
    if not folders:
        parser.error(f"no rca_data/<day>/<day>-fault_list.json under {args.data}")

    started = time.perf_counter()
    results: list[CaseResult] = []
    for folder in folders:
        day = load_day(folder)
        for fault in day.faults:
            results.append(rank_case(day, fault))
            if args.verbose:
                print_case(results[-1])
    if not results:
        parser.error(f"no faults listed under {args.data}")
    seconds = time.perf_counter() - started

    by_type: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        by_type[r.fault.fault_type].append(r)
    print(f"{'fault type':<16} {'cases':>5} {'AS@1':>6} {'AS@3':>6} {'AS@5':>6}")
    for name, group in [*sorted(by_type.items()), ("all", results)]:
        f = figures(group)
        print(f"{name:<16} {len(group):>5} {f['AS@1']:>6.3f} {f['AS@3']:>6.3f} {f['AS@5']:>6.3f}")
    published = ", ".join(f"{name} {value:.3f}" for name, value in PUBLISHED_AS1.items())
    print(f"{len(folders)} day folders, {len(results)} faults in {seconds:.1f} s; published AS@1: {published}")
    print(json.dumps({**figures(results), "cases": len(results)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reading a Nezha-shaped folder: injected faults, per-pod metrics, entry SLIs and the call graph.

The layout is Nezha's own (``rca_data/<day>/<day>-fault_list.json`` and ``rca_data/<day>/metric/``
with ``<pod>_metric.csv``, ``front_service.csv``, ``dependency.csv`` and the per-edge latencies
``source_50.csv`` / ``destination_50.csv``), so any folder laid out the same way can be ranked.
Times are read as UTC wall-clock strings (``inject_time`` and the ``Time`` column), not as the
``*timestamp`` columns, which the upstream TrainTicket days shift by 8 h.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# CI clones the repository with shared/ beside it, so resolve from the clone, not the cwd.
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "benchmarks" / "rca" / "nezha"

Points = list[tuple[float, float]]


@dataclass(frozen=True)
class Fault:
    day: str
    inject_at: float
    inject_time: str
    pod: str
    service: str
    fault_type: str


@dataclass
class Day:
    """One day's series, each a sorted list of ``(unix seconds, value)``."""

    name: str
    faults: list[Fault]
    # service -> pod -> column -> points
    pods: dict[str, dict[str, dict[str, Points]]] = field(default_factory=dict)
    # column -> points of the entry service's SLIs
    front: dict[str, Points] = field(default_factory=dict)
    # (caller, callee) -> points, as the caller measured the call and as the callee served it
    edge_source: dict[tuple[str, str], Points] = field(default_factory=dict)
    edge_destination: dict[tuple[str, str], Points] = field(default_factory=dict)
    graph: dict[str, list[str]] = field(default_factory=dict)
    # The service the entry SLIs belong to (``front_service.csv``'s ``ServiceName``).
    entry: str = ""


def utc_seconds(wall_clock: str) -> float:
    """``2022-08-22 03:51:19.57 +0000 UTC m=+0.07`` (or ``2022-08-22 03:53:54``) as unix seconds."""
    return datetime.strptime(wall_clock.strip()[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def minute(seconds: float) -> float:
    """The start of the minute: the collector wrote each file's rows a second or so apart, and
    production's range queries put every series on one grid, so onsets are compared on one."""
    return seconds - seconds % 60


def service_of(pod: str) -> str:
    """The pod name without its ReplicaSet and pod hashes: ``cartservice-579f59597d-wc2lz`` → ``cartservice``."""
    parts = pod.split("-")
    return "-".join(parts[:-2]) if len(parts) > 2 else pod


def day_folders(data_dir: Path) -> list[Path]:
    """Every ``rca_data/<day>/`` that holds a fault list, in name order."""
    root = data_dir / "rca_data"
    return sorted(p for p in root.glob("*") if p.is_dir() and any(p.glob("*-fault_list.json")))


def load_faults(day_dir: Path) -> list[Fault]:
    faults: list[Fault] = []
    for path in sorted(day_dir.glob("*-fault_list.json")):
        for entries in json.loads(path.read_text()).values():
            for item in entries:
                faults.append(
                    Fault(
                        day=day_dir.name,
                        inject_at=utc_seconds(item["inject_time"]),
                        inject_time=item["inject_time"],
                        pod=item["inject_pod"],
                        service=service_of(item["inject_pod"]),
                        fault_type=item["inject_type"],
                    )
                )
    return sorted(faults, key=lambda f: f.inject_at)


def load_day(day_dir: Path) -> Day:
    metric = day_dir / "metric"
    day = Day(name=day_dir.name, faults=load_faults(day_dir))
    for path in sorted(metric.glob("*_metric.csv")):
        pod = path.name.removesuffix("_metric.csv")
        day.pods.setdefault(service_of(pod), {})[pod] = read_columns(path, "Time", skip={"TimeStamp", "PodName"})
    if (metric / "front_service.csv").exists():
        day.front = read_columns(metric / "front_service.csv", "Time", skip={"TimeStamp", "ServiceName"})
        day.entry = _entry_name(metric / "front_service.csv")
    for name, target in (("source_50.csv", day.edge_source), ("destination_50.csv", day.edge_destination)):
        if (metric / name).exists():
            for column, points in read_columns(metric / name, "time", skip={"timestamp"}).items():
                edge = _edge(column, day.pods)
                if edge is not None:
                    target[edge] = points
    if (metric / "dependency.csv").exists():
        day.graph = read_graph(metric / "dependency.csv")
    if day.entry not in day.pods:
        # No SLI file, or a name unlike the pods': the entry is the service no other service calls.
        called = {callee for callees in day.graph.values() for callee in callees}
        day.entry = next((s for s in sorted(day.pods) if s not in called), day.entry)
    return day


def read_columns(path: Path, time_column: str, *, skip: set[str]) -> dict[str, Points]:
    """Every numeric column of a CSV as points; blank and unparsable cells are left out."""
    columns: dict[str, Points] = defaultdict(list)
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            at = minute(utc_seconds(row[time_column]))
            for name, cell in row.items():
                if name == time_column or name in skip or name is None:
                    continue
                value = _number(cell)
                if value is not None:
                    columns[name].append((at, value))
    return {name: sorted(points) for name, points in columns.items()}


def read_graph(path: Path) -> dict[str, list[str]]:
    """``Source,Target,Weight`` rows as ``{caller: [callees]}``."""
    graph: dict[str, list[str]] = defaultdict(list)
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            caller, callee = row["Source"].strip(), row["Target"].strip()
            if caller and callee and callee not in graph[caller]:
                graph[caller].append(callee)
    return dict(graph)


def _entry_name(path: Path) -> str:
    with path.open(newline="") as fh:
        row = next(csv.DictReader(fh), None)
    return (row or {}).get("ServiceName", "").strip().lower()


def _edge(column: str, services: dict[str, object]) -> tuple[str, str] | None:
    """``frontend_cartservice`` → ``("frontend", "cartservice")``, split where both halves are services."""
    for i, char in enumerate(column):
        if char == "_" and column[:i] in services and column[i + 1 :] in services:
            return column[:i], column[i + 1 :]
    return None


def _number(cell: str | None) -> float | None:
    try:
        value = float(cell) if cell not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None

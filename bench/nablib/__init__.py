"""Reading a NAB-shaped folder: series, labeled windows, cost profiles and detectors' results.

The layout is NAB's own (``data/<category>/<name>.csv``, ``labels/combined_windows.json``,
``config/profiles.json``, ``results/<detector>/<category>/<detector>_<name>.csv``), so any folder
laid out the same way can be scored. The scoring itself is ``detection.quality.nab_score``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from detection.quality.nab_score import PROFILES, CostProfile, LabeledSeries, profiles_from_config, window_indices

REPO_ROOT = Path(__file__).resolve().parents[2]
# CI clones the repository with shared/ beside it, so resolve from the clone, not the cwd.
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "benchmarks" / "nab"


def data_files(data_dir: Path) -> list[str]:
    """Every series as ``<category>/<name>.csv``, the key the labels use."""
    root = data_dir / "data"
    return sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.csv"))


def read_csv_columns(path: Path, column: str) -> tuple[list[datetime], list[float]]:
    """``timestamp`` and one value column; NAB writes naive timestamps, read here as UTC."""
    timestamps, values = [], []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            timestamps.append(datetime.fromisoformat(row["timestamp"]))
            values.append(float(row[column]))
    return timestamps, values


def read_series(data_dir: Path, name: str) -> tuple[list[datetime], list[float]]:
    return read_csv_columns(data_dir / "data" / name, "value")


def epoch_seconds(timestamps: list[datetime]) -> list[float]:
    return [t.replace(tzinfo=UTC).timestamp() for t in timestamps]


def load_windows(data_dir: Path) -> dict[str, list[tuple[datetime, datetime]]]:
    raw = json.loads((data_dir / "labels" / "combined_windows.json").read_text())
    return {
        name: [(datetime.fromisoformat(start), datetime.fromisoformat(end)) for start, end in windows]
        for name, windows in raw.items()
    }


def load_profiles(data_dir: Path) -> dict[str, CostProfile]:
    path = data_dir / "config" / "profiles.json"
    return profiles_from_config(json.loads(path.read_text())) if path.exists() else dict(PROFILES)


def result_path(results_dir: Path, detector: str, name: str) -> Path:
    category, filename = name.split("/", 1)
    return results_dir / detector / category / f"{detector}_{filename}"


def read_result(results_dir: Path, detector: str, name: str) -> tuple[list[datetime], list[float]]:
    return read_csv_columns(result_path(results_dir, detector, name), "anomaly_score")


def labeled_results(data_dir: Path, detector: str, results_dir: Path | None = None) -> Iterator[LabeledSeries]:
    """A detector's per-row scores for every labeled file, paired with that file's windows."""
    results_dir = results_dir or data_dir / "results"
    windows = load_windows(data_dir)
    for name in sorted(windows):
        timestamps, scores = read_result(results_dir, detector, name)
        yield LabeledSeries(name, scores, window_indices(timestamps, windows[name]))

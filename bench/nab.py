"""Anomaly detection quality: the production anomaly evaluator scored with NAB's method.

    python bench/nab.py [--data DIR] [--out DIR]

Every series under ``DIR/data`` (default ``../shared/benchmarks/nab`` from the repository root)
is streamed point by point through ``detection.evaluators.anomaly.AnomalyDetector`` with its
production defaults, the class a detection rule replays: each score uses only the points
before it and itself. Per-row scores are written NAB-style to
``--out/<detector>/<category>/<detector>_<name>.csv`` (default ``bench/results/nab``, not
versioned), then scored by ``detection.quality.nab_score`` against ``labels/combined_windows.json``
with the threshold swept per profile, as NAB does.

Also printed: the reference detectors of ``DIR/results`` (if present) through the same scorer,
which must give the README's figures, and the evaluator's cost per point and memory per
series. The last line of output is one JSON object with the three normalized scores.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
import tracemalloc
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.nablib import (  # noqa: E402
    DEFAULT_DATA,
    data_files,
    epoch_seconds,
    labeled_results,
    load_profiles,
    load_windows,
    read_series,
    result_path,
)
from detection.evaluators.anomaly import AnomalyDetector  # noqa: E402
from detection.quality.nab_score import Corpus, LabeledSeries, ProfileResult, score_corpus, window_indices  # noqa: E402

DETECTOR = "reliabilityStudio"
DEFAULT_OUT = REPO_ROOT / "bench" / "results" / "nab"
REFERENCE_DETECTORS = ("numenta", "windowedGaussian")


def stream(epochs: list[float], values: list[float]) -> tuple[list[float], float]:
    """Scores of one series from a fresh production detector, and the seconds it took."""
    detector = AnomalyDetector()
    update = detector.update
    started = time.perf_counter()
    scores = [update(t, v) for t, v in zip(epochs, values, strict=True)]
    return scores, time.perf_counter() - started


def retained_bytes(epochs: list[float], values: list[float]) -> int:
    """Memory a detector holds after streaming a whole series: what one series costs to keep."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        detector = AnomalyDetector()
        for t, v in zip(epochs, values, strict=True):
            detector.update(t, v)
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def write_scores(path: Path, timestamps: list, values: list[float], scores: list[float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", "value", "anomaly_score"])
        for t, v, s in zip(timestamps, values, scores, strict=True):
            writer.writerow([t.strftime("%Y-%m-%d %H:%M:%S"), v, repr(s)])


def print_results(label: str, results: dict[str, ProfileResult]) -> None:
    for r in results.values():
        threshold = f"{r.threshold:.6g}" if math.isfinite(r.threshold) else "none"
        print(
            f"{label:<18} {r.profile:<19} {r.normalized:>7.2f} {r.raw:>8.2f} {threshold:>10}"
            f" {r.windows_detected:>4}/{r.windows_detected + r.windows_missed:<4} {r.false_positives:>5}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a NAB-shaped folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where per-row scores are written")
    args = parser.parse_args(argv)
    if not (args.data / "data").is_dir():
        parser.error(f"no NAB data folder at {args.data / 'data'}")

    profiles = load_profiles(args.data)
    windows = load_windows(args.data)
    corpus = Corpus()
    series, points, seconds, longest = 0, 0, 0.0, ([], [])
    for name in data_files(args.data):
        if name not in windows:
            print(f"warning: {name} has no labels; not scored", file=sys.stderr)
            continue
        timestamps, values = read_series(args.data, name)
        epochs = epoch_seconds(timestamps)
        scores, elapsed = stream(epochs, values)
        series += 1
        points += len(values)
        seconds += elapsed
        if len(values) > len(longest[0]):
            longest = (epochs, values)
        write_scores(result_path(args.out, DETECTOR, name), timestamps, values, scores)
        corpus.add(LabeledSeries(name, scores, window_indices(timestamps, windows[name])))
    if not points:
        parser.error(f"no labeled series under {args.data / 'data'}")

    results = score_corpus(corpus, profiles)
    print(f"{'detector':<18} {'profile':<19} {'score':>7} {'raw':>8} {'threshold':>10} {'windows':>9} {'FP':>5}")
    print_results(DETECTOR, results)
    for reference in REFERENCE_DETECTORS:
        if (args.data / "results" / reference).is_dir():
            print_results(reference, score_corpus(labeled_results(args.data, reference), profiles))
    print(
        f"{DETECTOR}: {series} series, {points} points, {corpus.windows_total} anomaly windows;"
        f" {seconds / points * 1e6:.1f} us/point, {retained_bytes(*longest) / 1024:.1f} KiB per series"
        f" (after {len(longest[0])} points)"
    )
    print(json.dumps({name: round(r.normalized, 2) for name, r in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

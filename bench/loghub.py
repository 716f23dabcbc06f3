"""Log template mining quality: the production miner's grouping accuracy on Loghub samples.

    python bench/loghub.py [--data DIR]

For every ``<System>/<System>_2k.log`` under DIR (default ``../shared/benchmarks/loghub`` from
the repository root), the header of each line is split off with that system's log format,
the ``Content`` goes through ``correlation.logs.LogTemplateMiner`` exactly as shipped (one
configuration for every system), and grouping accuracy (GA) is measured against the ground
truth ``<System>_2k.log_structured.csv`` (the ICSE'19 labels that the published Drain figures
use) and ``..._structured_corrected.csv`` (ICSE'22). The last line of output is one JSON object,
``{"<System>": GA, ..., "mean": GA}``, against the ICSE'19 labels.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from correlation.logs import LogTemplateMiner  # noqa: E402
from correlation.quality import grouping_accuracy  # noqa: E402

# CI clones the repository with shared/ beside it, so resolve from the clone, not the cwd.
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "benchmarks" / "loghub"

# The sources' own line formats (logpai/loghub's, as its benchmarks split headers): the shape
# of each system's lines, not a setting of the miner. <Content> is what the miner gets.
LOG_FORMATS = {
    "HDFS": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "Hadoop": r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
    "Spark": "<Date> <Time> <Level> <Component>: <Content>",
    "Zookeeper": r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
    "BGL": "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
    "HPC": "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
    "Thunderbird": (
        r"<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> <Component>(\[<PID>\])?: <Content>"
    ),
    "Windows": "<Date> <Time>, <Level>                  <Component>    <Content>",
    "Linux": r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
    "Android": "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>",
    "HealthApp": r"<Time>\|<Component>\|<Pid>\|<Content>",
    "Apache": r"\[<Time>\] \[<Level>\] <Content>",
    "Proxifier": r"\[<Time>\] <Program> - <Content>",
    "OpenSSH": r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
    "OpenStack": r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
    "Mac": r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
}

# ICSE'19 figures (logpai/logparser, Drain tuned per system), from the benchmark's README.
PUBLISHED_GA = {"HDFS": 0.9975, "Hadoop": 0.9475, "Spark": 0.9200, "Zookeeper": 0.9665}


def format_regex(log_format: str) -> re.Pattern[str]:
    """``<Field>`` becomes a lazy named group (the last, ``Content``, greedy); spaces match any run."""
    pattern = ""
    for i, part in enumerate(re.split(r"(<[^<>]+>)", log_format)):
        if i % 2 == 0:
            pattern += re.sub(" +", r"\\s+", part)
        else:
            name = part[1:-1]
            pattern += f"(?P<{name}>.*)" if name == "Content" else f"(?P<{name}>.*?)"
    return re.compile(f"^{pattern}$")


@dataclass(frozen=True)
class SystemResult:
    system: str
    lines: int
    ga: float
    ga_corrected: float | None
    templates: int
    true_templates: int
    unparsed: int
    seconds: float


def read_truth(path: Path) -> tuple[list[str], list[str]]:
    """(EventId, Content) per line of a structured ground-truth CSV."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [row["EventId"] for row in rows], [row["Content"] for row in rows]


def read_contents(log_path: Path, system: str, fallback: list[str]) -> tuple[list[str], int]:
    """Each line's Content by the system's format; a line the format misses keeps the
    ground truth's Content (counted, so a wrong format shows up in the report)."""
    regex = format_regex(LOG_FORMATS[system]) if system in LOG_FORMATS else None
    with log_path.open(encoding="utf-8", errors="replace") as fh:
        raw = [line.strip() for line in fh.read().splitlines()]
    if len(raw) != len(fallback):
        raise ValueError(f"{log_path}: {len(raw)} lines but {len(fallback)} labelled")
    contents, unparsed = [], 0
    for line, known in zip(raw, fallback, strict=True):
        match = regex.match(line) if regex else None
        if match is None:
            unparsed += 1
            contents.append(known)
        else:
            contents.append(match.group("Content"))
    return contents, unparsed


def evaluate_system(folder: Path) -> SystemResult:
    system = folder.name
    base = folder / f"{system}_2k.log"
    truth, truth_content = read_truth(folder / f"{system}_2k.log_structured.csv")
    contents, unparsed = read_contents(base, system, truth_content)

    miner = LogTemplateMiner()
    started = time.perf_counter()
    predicted = [miner.add(line)[0] for line in contents]
    seconds = time.perf_counter() - started

    corrected_path = folder / f"{system}_2k.log_structured_corrected.csv"
    ga_corrected = grouping_accuracy(read_truth(corrected_path)[0], predicted) if corrected_path.exists() else None
    return SystemResult(
        system=system,
        lines=len(contents),
        ga=grouping_accuracy(truth, predicted),
        ga_corrected=ga_corrected,
        templates=len(set(predicted)),
        true_templates=len(set(truth)),
        unparsed=unparsed,
        seconds=seconds,
    )


def systems(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.iterdir() if (p / f"{p.name}_2k.log").is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a Loghub-2k-shaped folder")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(f"no benchmark folder at {args.data}")

    results = [evaluate_system(folder) for folder in systems(args.data)]
    if not results:
        parser.error(f"no <System>/<System>_2k.log under {args.data}")
    print(f"{'system':<12} {'GA':>7} {'GA(corr)':>9} {'published':>9} {'groups':>7} {'true':>5} {'lines/s':>8}")
    for r in results:
        corrected = f"{r.ga_corrected:.4f}" if r.ga_corrected is not None else "-"
        published = f"{PUBLISHED_GA[r.system]:.4f}" if r.system in PUBLISHED_GA else "-"
        print(
            f"{r.system:<12} {r.ga:>7.4f} {corrected:>9} {published:>9} {r.templates:>7} {r.true_templates:>5}"
            f" {r.lines / r.seconds:>8.0f}"
        )
        if r.unparsed:
            print(f"  warning: {r.unparsed} {r.system} lines did not match its log format", file=sys.stderr)
    figures = {r.system: round(r.ga, 4) for r in results}
    figures["mean"] = round(sum(r.ga for r in results) / len(results), 4)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

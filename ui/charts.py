"""Chart geometry for server-rendered SVG: data in, rectangles out. Pure: no Django, no clock.

Templates draw the shapes; labels are HTML beside the SVG, so the SVG can stretch to any width
(``preserveAspectRatio="none"``) while the text stays crisp and readable on a phone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# The SVG's own coordinate space; it is scaled to the element's box, so only ratios matter.
VIEW_WIDTH = 600
VIEW_HEIGHT = 120
BAR_GAP_SHARE = 0.2  # of each slot, so bars stay apart even at 90 days


@dataclass(frozen=True)
class Column:
    x: float
    y: float
    width: float
    height: float
    value: float
    label: str


@dataclass(frozen=True)
class ColumnChart:
    columns: list[Column]
    max_value: float  # the top of the y axis: a round number at or above the largest value
    total: float
    width: int = VIEW_WIDTH
    height: int = VIEW_HEIGHT

    @property
    def gridlines(self) -> list[float]:
        """y of the top and middle gridlines (the baseline is the chart's border)."""
        return [0.0, self.height / 2]

    @property
    def first_label(self) -> str:
        return self.columns[0].label if self.columns else ""

    @property
    def middle_label(self) -> str:
        return self.columns[len(self.columns) // 2].label if len(self.columns) > 2 else ""

    @property
    def last_label(self) -> str:
        return self.columns[-1].label if len(self.columns) > 1 else ""


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above ``value`` (at least 1): a readable axis top."""
    if not math.isfinite(value) or value <= 1:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)  # pragma: no cover - the loop always returns


def column_chart(
    points: Sequence[tuple[str, float]], *, width: int = VIEW_WIDTH, height: int = VIEW_HEIGHT
) -> ColumnChart:
    """One column per point, left to right, scaled against a round maximum."""
    values = [value if math.isfinite(value) and value > 0 else 0.0 for _, value in points]
    top = nice_ceiling(max(values, default=0.0))
    slot = width / len(points) if points else width
    gap = slot * BAR_GAP_SHARE if len(points) > 1 else 0.0
    columns = []
    for index, ((label, _), value) in enumerate(zip(points, values, strict=True)):
        bar_height = height * value / top
        columns.append(
            Column(
                x=round(index * slot + gap / 2, 2),
                y=round(height - bar_height, 2),
                width=round(slot - gap, 2),
                height=round(bar_height, 2),
                value=value,
                label=label,
            )
        )
    return ColumnChart(columns=columns, max_value=top, total=sum(values), width=width, height=height)


def fill_buckets(
    buckets: Iterable[Mapping[str, Any]], *, since: datetime, until: datetime, step: timedelta
) -> list[tuple[datetime, int]]:
    """``[{"start", "count"}]`` with gaps (as the stats selector returns it) as one count per step.

    The first bucket is ``since`` truncated to the step (a day or an hour, in ``since``'s zone).
    """
    counts = {bucket["start"]: int(bucket["count"]) for bucket in buckets}
    start = _truncate(since, step)
    filled: list[tuple[datetime, int]] = []
    at = start
    while at < until:
        filled.append((at, counts.get(at, 0)))
        at += step
    return filled


def _truncate(at: datetime, step: timedelta) -> datetime:
    if step >= timedelta(days=1):
        return at.replace(hour=0, minute=0, second=0, microsecond=0)
    return at.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Segment:
    key: str
    x: float
    width: float
    value: int
    share: float  # 0..1


def stacked_bar(counts: Mapping[str, int], *, order: Sequence[str], width: int = VIEW_WIDTH) -> list[Segment]:
    """One horizontal bar split by ``order``'s keys; empty keys give no segment."""
    total = sum(max(counts.get(key, 0), 0) for key in order)
    segments: list[Segment] = []
    x = 0.0
    for key in order:
        value = max(counts.get(key, 0), 0)
        if not value:
            continue
        share = value / total
        segments.append(Segment(key=key, x=round(x, 2), width=round(width * share, 2), value=value, share=share))
        x += width * share
    return segments


@dataclass(frozen=True)
class RangeBar:
    """A median bar with a p90 whisker, both as shares (0..1) of a common scale."""

    key: str
    median: float | None
    p90: float | None
    median_share: float
    p90_share: float


def range_bars(rows: Iterable[tuple[str, float | None, float | None]]) -> list[RangeBar]:
    """Median/p90 pairs on one scale (the largest p90), for comparing e.g. MTTR by severity."""
    rows = list(rows)
    scale = max((value for _, median, p90 in rows for value in (median, p90) if value), default=0.0)
    bars = []
    for key, median, p90 in rows:
        bars.append(
            RangeBar(
                key=key,
                median=median,
                p90=p90,
                median_share=(median or 0.0) / scale if scale else 0.0,
                p90_share=(p90 or 0.0) / scale if scale else 0.0,
            )
        )
    return bars

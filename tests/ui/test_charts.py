"""Chart geometry and the compact formats of the operator pages: pure, table-driven."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from ui import charts
from ui.templatetags.studio import compact_duration, metric


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (-3, 1), (math.nan, 1), (math.inf, 1), (1, 1), (1.2, 2), (3, 5), (7, 10), (10, 10), (11, 20),
     (21, 25), (240, 250), (260, 500)],
)
def test_axis_tops_are_round_numbers_at_or_above_the_largest_value(value, ceiling):
    assert charts.nice_ceiling(value) == ceiling


def test_columns_share_the_width_and_scale_against_the_round_top():
    chart = charts.column_chart([("a", 5), ("b", 0), ("c", 10)], width=300, height=100)

    assert chart.max_value == 10 and chart.total == 15
    heights = [column.height for column in chart.columns]
    assert heights == [50.0, 0.0, 100.0]
    assert [column.y for column in chart.columns] == [50.0, 100.0, 0.0]
    assert chart.columns[2].x + chart.columns[2].width <= 300
    assert (chart.first_label, chart.middle_label, chart.last_label) == ("a", "b", "c")


@pytest.mark.parametrize("points", [[], [("only", 3)], [("nan", math.nan), ("neg", -1)]])
def test_columns_survive_empty_single_and_invalid_points(points):
    chart = charts.column_chart(points)

    assert all(0 <= column.height <= chart.height for column in chart.columns)
    assert chart.total >= 0


def test_buckets_are_filled_with_zeros_from_the_first_day_to_the_last():
    since = datetime(2024, 3, 1, 15, 30, tzinfo=UTC)
    day = datetime(2024, 3, 2, tzinfo=UTC)

    filled = charts.fill_buckets([{"start": day, "count": 4}], since=since, until=since + timedelta(days=3),
                                 step=timedelta(days=1))

    assert filled == [(datetime(2024, 3, 1, tzinfo=UTC), 0), (day, 4), (datetime(2024, 3, 3, tzinfo=UTC), 0),
                      (datetime(2024, 3, 4, tzinfo=UTC), 0)]


def test_a_stacked_bar_leaves_out_empty_keys_and_spans_the_width():
    segments = charts.stacked_bar({"critical": 1, "high": 0, "low": 3}, order=["critical", "high", "medium", "low"],
                                  width=400)

    assert [(s.key, s.x, s.width) for s in segments] == [("critical", 0.0, 100.0), ("low", 100.0, 300.0)]
    assert charts.stacked_bar({}, order=["critical"]) == []


def test_range_bars_share_one_scale_and_tolerate_missing_values():
    bars = charts.range_bars([("high", 60.0, 120.0), ("low", None, None), ("medium", 30.0, 240.0)])

    assert [(b.key, b.median_share, b.p90_share) for b in bars] == [
        ("high", 0.25, 0.5), ("low", 0.0, 0.0), ("medium", 0.125, 1.0)
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (math.nan, "—"), (-5, "0s"), (0, "0s"), (59.9, "59s"), (60, "1m 00s"), (599, "9m 59s"),
     (600, "10m"), (3599, "59m"), (3600, "1h 00m"), (3 * 3600 + 4 * 60, "3h 04m"), (86400, "1d"),
     (86400 + 7200, "1d 2h")],
)
def test_durations_read_compactly(seconds, text):
    assert compact_duration(seconds) == text


@pytest.mark.parametrize(
    ("value", "text"), [(None, "—"), (0.0, "0"), (0.27, "0.27"), (2.4, "2.4"), (1234567.0, "1.235e+06"),
                        (math.inf, "inf"), (120, "120")],
)
def test_metric_values_keep_four_significant_digits(value, text):
    assert metric(value) == text

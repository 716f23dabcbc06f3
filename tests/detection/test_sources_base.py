"""What every HTTP source shares: pooled sessions, bounded retries, timeouts, value parsing."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from detection.sources.base import (
    BadResponse,
    SourceConfig,
    build_retry,
    clear_sessions,
    parse_float,
    session_for,
    timestamp_seconds,
)


@pytest.fixture(autouse=True)
def _no_pooled_sessions():
    clear_sessions()
    yield
    clear_sessions()


def test_one_session_per_source_configuration() -> None:
    config = SourceConfig(url="http://prometheus:9090", auth_token="a")

    assert session_for(config) is session_for(SourceConfig(url="http://prometheus:9090/", auth_token="a"))
    assert session_for(config) is not session_for(SourceConfig(url="http://prometheus:9090", auth_token="b"))
    assert session_for(config) is not session_for(SourceConfig(url="http://loki:3100", auth_token="a"))


def test_timeouts_are_separate_for_connect_and_read() -> None:
    assert SourceConfig(timeout_seconds=30).timeouts == (3.0, 30)
    # A short overall timeout also bounds the connect.
    assert SourceConfig(timeout_seconds=0.5).timeouts == (0.5, 0.5)


def test_session_sends_credentials_and_ignores_proxy_environment() -> None:
    token = session_for(SourceConfig(url="http://a", auth_token="t"))
    basic = session_for(SourceConfig(url="http://b", username="u", password="p"))

    assert token.headers["Authorization"] == "Bearer t"
    assert basic.auth == ("u", "p")
    assert token.trust_env is False


@pytest.mark.parametrize(
    ("status", "retried"),
    [(502, True), (503, True), (504, True), (500, False), (400, False), (401, False), (422, False)],
)
def test_only_gateway_statuses_are_retried(status: int, retried: bool) -> None:
    assert build_retry(2).is_retry("POST", status) is retried


def test_retries_are_bounded_and_read_timeouts_are_not_retried() -> None:
    retry = build_retry(2)

    assert (retry.total, retry.connect, retry.status) == (2, 2, 2)
    assert retry.read is False


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1.5", 1.5), ("0", 0.0), ("+Inf", math.inf), ("-Inf", -math.inf), ("1e-3", 0.001), (3, 3.0)],
)
def test_sample_values_parse_as_floats(raw: object, expected: float) -> None:
    assert parse_float(raw) == expected


def test_nan_parses_as_nan() -> None:
    assert math.isnan(parse_float("NaN"))


@pytest.mark.parametrize("raw", ["abc", "", None, [], True, {"v": 1}])
def test_values_that_are_not_numbers_are_bad_responses(raw: object) -> None:
    with pytest.raises(BadResponse):
        parse_float(raw)


def test_naive_datetimes_are_utc() -> None:
    assert timestamp_seconds(datetime(2023, 11, 14, 22, 13, 20)) == 1700000000.0
    assert timestamp_seconds(datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)) == 1700000000.0
    assert timestamp_seconds(1700000000) == 1700000000.0

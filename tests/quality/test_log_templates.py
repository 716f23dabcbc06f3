"""The production log template miner: hand-made lines, then the Loghub benchmark's floor."""

from __future__ import annotations

from pathlib import Path

import pytest

from correlation.logs import LogTemplateMiner, Template, group
from tests.conftest import require_service

LOGHUB = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks" / "loghub"


def test_lines_from_one_statement_share_a_template_and_others_do_not():
    lines = [
        "Connection from 10.0.0.1:5432 closed after 12 ms",
        "Connection from 10.0.0.17:61000 closed after 340 ms",
        "Connection from 192.168.1.1:80 closed after 7 ms",
        "Disk /dev/sda1 is 93% full",
        "User alice logged in",
        "User bob logged in",
    ]

    templates = group(lines)

    assert [(t.template, t.count) for t in templates] == [
        ("Connection from <IP> closed after <NUM> ms", 3),
        ("User <*> logged in", 2),
        ("Disk /dev/sda1 is <NUM>% full", 1),
    ]
    assert templates[0].examples == tuple(lines[:3])


@pytest.mark.parametrize(
    ("line", "template"),
    [
        ("request 123e4567-e89b-12d3-a456-426614174000 failed", "request <UUID> failed"),
        ("at 2024-05-01T12:00:03.123Z retrying", "at <TIMESTAMP> retrying"),
        ("session 0x24ed93119420016 expired", "session <HEX> expired"),
        ("trace 4bf92f3577b34da6a3ce929d0e0e4736 slow", "trace <HEX> slow"),
        ("deleting blk_-5140072410813878235", "deleting <BLOCK>"),
        ("Received connection request /10.10.34.11:45307", "Received connection request <IP>"),
        ("retry -3 of 2.5", "retry <NUM> of <NUM>"),
        ("api v2 job_17 e2e", "api v2 job_17 e2e"),  # digits inside words are not masked
    ],
)
def test_variable_parts_are_masked_before_grouping(line, template):
    assert group([line])[0].template == template


def test_incremental_adds_return_the_group_and_its_template_so_far():
    miner = LogTemplateMiner(max_examples=1)

    first = miner.add("worker 1 started job alpha")
    second = miner.add("worker 2 started job beta")
    other = miner.add("shutting down")

    assert first == (first[0], "worker <NUM> started job alpha")
    assert second == (first[0], "worker <NUM> started job <*>")
    assert other[0] != first[0]
    assert len(miner) == 2
    expected = Template(first[0], "worker <NUM> started job <*>", 2, ("worker 1 started job alpha",))
    assert miner.templates()[0] == expected


def test_no_lines_give_no_templates():
    assert group([]) == []


@pytest.fixture(scope="module")
def loghub_results():
    if not (LOGHUB / "HDFS").is_dir():
        require_service(f"Loghub benchmark folder at {LOGHUB}")
    from bench.loghub import evaluate_system, systems

    return {r.system: r for r in map(evaluate_system, systems(LOGHUB))}


def test_the_shipped_configuration_matches_or_beats_drain_tuned_per_system(loghub_results):
    from bench.loghub import PUBLISHED_GA

    assert {s: r.ga >= PUBLISHED_GA[s] for s, r in loghub_results.items()} == dict.fromkeys(PUBLISHED_GA, True)
    assert all(r.unparsed == 0 for r in loghub_results.values())

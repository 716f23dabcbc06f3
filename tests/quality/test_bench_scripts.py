"""The bench scripts run on any folder laid out like the shared benchmarks and end with one JSON line."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from bench import loghub, nab


def test_nab_bench_scores_a_nab_shaped_folder(tmp_path, capsys):
    start = datetime(2024, 1, 1)
    rows = ["timestamp,value"]
    for i in range(400):
        value = 100.0 if i == 300 else 10.0 + (i % 7) * 0.1
        rows.append(f"{start + timedelta(minutes=5 * i):%Y-%m-%d %H:%M:%S},{value}")
    (tmp_path / "data" / "synthetic").mkdir(parents=True)
    (tmp_path / "data" / "synthetic" / "spike.csv").write_text("\n".join(rows) + "\n")
    window = [f"{start + timedelta(minutes=5 * i):%Y-%m-%d %H:%M:%S}.000000" for i in (290, 310)]
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps({"synthetic/spike.csv": [window]}))

    assert nab.main(["--data", str(tmp_path), "--out", str(tmp_path / "out")]) == 0

    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(figures) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    assert figures["standard"] > 90  # one obvious spike, found inside its window
    scores = (tmp_path / "out" / nab.DETECTOR / "synthetic" / f"{nab.DETECTOR}_spike.csv").read_text().splitlines()
    assert scores[0] == "timestamp,value,anomaly_score" and len(scores) == 401


def test_loghub_bench_scores_a_loghub_shaped_folder(tmp_path, capsys):
    system = tmp_path / "Tiny"
    system.mkdir()
    lines = ["boot 1: disk ok", "boot 2: disk ok", "fan speed 1200 rpm"]
    (system / "Tiny_2k.log").write_text("".join(f"2024-01-01 INFO {line}\n" for line in lines))
    structured = ["LineId,Content,EventId,EventTemplate"]
    structured += [f"{i + 1},{line},{'E1' if i < 2 else 'E2'},x" for i, line in enumerate(lines)]
    (system / "Tiny_2k.log_structured.csv").write_text("\n".join(structured) + "\n")

    assert loghub.main(["--data", str(tmp_path)]) == 0

    captured = capsys.readouterr()
    assert json.loads(captured.out.strip().splitlines()[-1]) == {"Tiny": 1.0, "mean": 1.0}
    assert "3 Tiny lines did not match its log format" in captured.err  # unknown format: labelled Content


def test_the_report_flattens_nested_figures_into_dotted_names():
    from bench.report import flatten

    assert flatten({"a": 1.0, "b": {"c": 2, "d": {"e": True}}}) == {"a": 1.0, "b.c": 2, "b.d.e": True}

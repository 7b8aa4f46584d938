"""``hx canary judge`` on a peer's short hand-written windows: JSON as well as CSV, levels in the metric's own
units, relative changes as percentages, and a critical error rate rising from 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hx.cli.main import main

CASE = {
    "baseline": {"latency_ms": [100, 101, 99, 100, 102], "error_rate": [0, 0, 0, 0, 0]},
    "canary": [
        {"timestamp": 1, "latency_ms": 200, "error_rate": 0.1},
        {"timestamp": 2, "latency_ms": 201, "error_rate": 0.2},
        {"timestamp": 3, "latency_ms": 199, "error_rate": 0.1},
        {"timestamp": 4, "latency_ms": 203, "error_rate": 0.3},
        {"timestamp": 5, "latency_ms": 200, "error_rate": 0.1},
    ],
}
CONFIG = "metrics:\n  - {name: latency_ms}\n  - {name: error_rate, critical: true}\n"


def _files(tmp_path: Path) -> tuple[Path, Path]:
    case, cfg = tmp_path / "case.json", tmp_path / "metrics.yml"
    case.write_text(json.dumps(CASE))
    cfg.write_text(CONFIG)
    return case, cfg


def test_one_json_file_holds_both_windows_and_the_json_output_has_the_levels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    case, cfg = _files(tmp_path)
    code = main(["--json", "canary", "judge", "--baseline", str(case), "--canary", str(case), "--config", str(cfg)])
    out = capsys.readouterr()
    assert code == 1, out.err
    v = json.loads(out.out)
    assert v["status"] == "fail"
    assert v["levels"]["latency_ms"] == {"baseline": 100.0, "canary": 200.0}
    assert v["levels"]["error_rate"] == {"baseline": 0.0, "canary": 0.1}


def test_the_table_shows_levels_and_changes_in_percent_not_raw_ratios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    b, k, cfg = tmp_path / "b.csv", tmp_path / "k.csv", tmp_path / "m.yml"
    b.write_text("latency_ms,error_rate\n100,0\n101,0\n99,0\n100,0\n102,0\n")
    k.write_text("latency_ms,error_rate\n200,0.1\n201,0.2\n199,0.1\n203,0.3\n200,0.1\n")
    cfg.write_text(CONFIG)
    assert main(["canary", "judge", "--baseline", str(b), "--canary", str(k), "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert "+99.8%" in out and "baseline ~0" in out, out
    assert "0.998" not in out and "e+" not in out and "000000" not in out, out
    assert "critical metric failed: error_rate" in out and "(score 0.0 of 100)" in out


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('{"baseline": {"latency_ms": [1, "x"]}}', ["latency_ms", "point 2", '"x"']),
        ('{"baseline": {"latency_ms": []}}', ["latency_ms", "non-empty list"]),
        ("[1, 2", ["not valid JSON"]),
        ('"hello"', ["expected {metric: [values]}"]),
    ],
)
def test_a_bad_json_window_exits_2_naming_the_file_and_what_was_expected(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    named: list[str],
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    case, cfg = _files(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    code = main(["canary", "judge", "--baseline", str(bad), "--canary", str(case), "--config", str(cfg)])
    err = capsys.readouterr().err
    assert code == 2 and str(bad) in err and all(n in err for n in named), err


def test_the_help_says_what_the_config_and_windows_hold(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["canary", "judge", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "direction" in out and "critical" in out and "JSON" in out


def test_the_score_is_rounded_in_the_title(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    case = tmp_path / "case.json"
    flat = [100, 102, 98, 101, 99, 100, 103, 97, 100, 101]
    case.write_text(
        json.dumps(
            {
                "baseline": {"a": flat, "b": flat, "c": flat},
                "canary": {"a": flat, "b": flat, "c": [v * 10 for v in flat]},
            }
        )
    )
    cfg = tmp_path / "m.yml"
    cfg.write_text("metrics:\n  - {name: a}\n  - {name: b}\n  - {name: c}\n")
    main(["canary", "judge", "--baseline", str(case), "--canary", str(case), "--config", str(cfg)])
    out = capsys.readouterr().out
    assert "of 100)" in out and "333333" not in out and "666666" not in out, out


def test_history_may_be_json_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    case, cfg = _files(tmp_path)
    hist = tmp_path / "history.json"
    hist.write_text(json.dumps({"latency_ms": [100, 101, 99, 100, 102] * 20, "error_rate": [0] * 100}))
    args = ["--json", "canary", "judge", "--baseline", str(case), "--canary", str(case), "--config", str(cfg)]
    code = main([*args, "--history", str(hist)])
    out = capsys.readouterr()
    assert code == 1 and json.loads(out.out)["status"] == "fail", out.err


def test_semicolon_separated_windows_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A spreadsheet in a comma-decimal locale exports ``;``: the separator is sniffed from the header."""
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    base, can = tmp_path / "b.csv", tmp_path / "c.csv"
    base.write_text("latency_ms;error_rate\n" + "".join(f"{v};0\n" for v in (100, 101, 99, 100, 102)))
    can.write_text("latency_ms;error_rate\n" + "".join(f"{v};0\n" for v in (200, 201, 199, 203, 200)))
    cfg = tmp_path / "m.yml"
    cfg.write_text("metrics:\n  - {name: latency_ms}\n  - {name: error_rate}\n")
    code = main(["--json", "canary", "judge", "--baseline", str(base), "--canary", str(can), "--config", str(cfg)])
    out = capsys.readouterr()
    assert code == 1 and json.loads(out.out)["status"] == "fail", out.err


@pytest.mark.parametrize(
    ("baseline", "canary", "says"),
    [
        ("latency\n100\ninf\n99\n102\n98\n", None, "row 3, column 'latency': 'inf' is not a finite number"),
        (json.dumps({"latency": [100, True, 99, 102, 98]}), None, "point 2: true is not a number"),
        (None, json.dumps({"baseline": {"latency": [1, 2, 3, 4, 5]}}), "no 'canary' window (the file holds 'baseline"),
    ],
)
def test_a_window_hx_would_misread_is_refused_naming_the_place(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    baseline: str | None,
    canary: str | None,
    says: str,
) -> None:
    """An infinity was dropped as a gap, JSON true read as 1, a file with only the baseline read as a metric."""
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    plain = tmp_path / "plain.csv"
    plain.write_text("latency\n100\n101\n99\n102\n98\n")
    cfg = tmp_path / "m.yml"
    cfg.write_text("metrics:\n  - {name: latency}\n")
    b = c = plain
    if baseline is not None:
        b = tmp_path / ("b.csv" if baseline.startswith("latency") else "b.json")
        b.write_text(baseline)
    if canary is not None:
        c = tmp_path / "c.json"
        c.write_text(canary)
    code = main(["canary", "judge", "--baseline", str(b), "--canary", str(c), "--config", str(cfg)])
    assert code == 2 and says in capsys.readouterr().err


def test_a_negative_count_and_an_effect_size_beyond_its_limit_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    b, c, cfg = tmp_path / "b.csv", tmp_path / "c.csv", tmp_path / "m.yml"
    b.write_text("errors,latency\n" + "".join(f"{i % 2},{100 + i % 3}\n" for i in range(20)))
    c.write_text("errors,latency\n-1,150\n" + "".join(f"{i % 2},{150 + i % 3}\n" for i in range(19)))
    cfg.write_text("metrics:\n  - {name: errors, kind: count}\n  - {name: latency, allowed_increase: 1.2}\n")
    assert main(["canary", "judge", "--baseline", str(b), "--canary", str(c), "--config", str(cfg)]) == 2
    assert "metric 'errors' (kind count): canary.errors[0] (point 1) is -1" in capsys.readouterr().err
    c.write_text("errors,latency\n" + "".join(f"{i % 2},{150 + i % 3}\n" for i in range(20)))
    assert main(["--json", "canary", "judge", "--baseline", str(b), "--canary", str(c), "--config", str(cfg)]) == 1
    latency = next(m for m in json.loads(capsys.readouterr().out)["metrics"] if m["name"] == "latency")
    assert "beyond the allowed mean_ratio 1.2" in latency["reason"]


def test_the_json_says_whether_the_direction_was_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a direction a fall fails on the guard 'no direction is configured'; the JSON must not contradict it."""
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    b, c, cfg = tmp_path / "b.csv", tmp_path / "c.csv", tmp_path / "m.yml"
    b.write_text("latency\n" + "".join(f"{100 + i % 3}\n" for i in range(10)))
    c.write_text("latency\n" + "".join(f"{40 + i % 3}\n" for i in range(10)))
    for stated, config, code in ((False, "{name: latency}", 1), (True, "{name: latency, direction: increase}", 0)):
        cfg.write_text(f"metrics:\n  - {config}\n")
        args = ["--json", "canary", "judge", "--baseline", str(b), "--canary", str(c), "--config", str(cfg)]
        assert main(args) == code
        m = json.loads(capsys.readouterr().out)["metrics"][0]
        assert m["direction"] == "increase" and m["direction_stated"] is stated


def test_a_metric_without_its_column_is_refused_naming_the_columns_the_window_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A spreadsheet's 'Latency_P95' for the config's latency_p95 was refused without a word of what the file held."""
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    base, can = tmp_path / "b.csv", tmp_path / "c.csv"
    base.write_text("timestamp,Latency_P95,errors\n" + "".join(f"{i},{v},0\n" for i, v in enumerate((100, 101, 99))))
    can.write_text("timestamp,latency_p95,errors\n" + "".join(f"{i},{v},0\n" for i, v in enumerate((200, 201, 199))))
    cfg = tmp_path / "m.yml"
    cfg.write_text("metrics:\n  - {name: latency_p95}\n")
    code = main(["canary", "judge", "--baseline", str(base), "--canary", str(can), "--config", str(cfg)])
    err = capsys.readouterr().err
    assert code == 2 and f"{base}: no column for metric(s) latency_p95" in err
    assert "the file has: Latency_P95, errors" in err and "'Latency_P95' is not 'latency_p95'" in err, err

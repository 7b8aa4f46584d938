"""``hx detect`` on files as public corpora ship them: a folder, NAB's data/ folder itself, exact repeated rows,
``TimeStamp,Value,Label`` and other column names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hx.cli.main import main

T0 = 1_700_000_000


def _csv(path: Path, header: str, n: int = 400, spike: int = 300, repeat: int | None = None) -> Path:
    rng = np.random.default_rng(len(path.name))
    values = 10 + rng.normal(0, 0.5, n)
    values[spike] = 60
    lines = [header]
    for i, v in enumerate(values):
        lines.append(f"{T0 + 300 * i},{v:.4f},0")
        if i == repeat:
            lines.append(lines[-1])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_labelled_file_with_exact_repeated_rows_is_scored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    f = _csv(tmp_path / "app1-01.csv", "TimeStamp,Value,Label", repeat=50)
    code, out, err = _run(["--json", "detect", "run", str(f)], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["points"] == 400 and any("repeated row" in n for n in data["notes"])
    assert T0 + 300 * 300 in [a["timestamp"] for a in data["anomalies"]]


def test_a_time_given_twice_with_different_values_is_refused_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    f = tmp_path / "s.csv"
    f.write_text(f"timestamp,value\n{T0},1\n{T0 + 60},2\n{T0 + 60},3\n{T0 + 120},4\n")
    code, _, err = _run(["detect", "run", str(f)], capsys)
    assert code == 2 and str(f) in err and "duplicate timestamp" in err, err


def test_other_column_names_with_value_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    f = _csv(tmp_path / "trace.csv", "time,requests,errors")
    code, _, err = _run(["detect", "run", str(f)], capsys)
    assert code == 2 and "--value-column" in err and "requests" in err, err
    code, out, err = _run(["--json", "detect", "run", str(f), "--value-column", "requests"], capsys)
    assert code == 0 and json.loads(out)["points"] == 400, err


def test_a_folder_scores_every_file_and_names_the_bad_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    _csv(tmp_path / "corpus" / "a" / "one.csv", "timestamp,value,label")
    _csv(tmp_path / "corpus" / "b" / "two.csv", "timestamp,value,label")
    code, out, err = _run(["--json", "detect", "run", str(tmp_path / "corpus"), "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    files = json.loads(out)["files"]
    assert [f["name"] for f in files] == ["a/one.csv", "b/two.csv"] and all(f["anomalies"] for f in files)
    assert (tmp_path / "o" / "b" / "two.csv").read_text().startswith("timestamp,value,anomaly_score")
    (tmp_path / "corpus" / "bad.csv").write_text("timestamp,value\n1,x\n")
    code, out, err = _run(["detect", "run", str(tmp_path / "corpus")], capsys)
    assert code == 2 and "bad.csv" in out and "1 of 3 file(s)" in err, (out, err)
    # with --json: one document (the scores and the refusal), not the scores followed by an error document
    code, out, err = _run(["--json", "detect", "run", str(tmp_path / "corpus")], capsys)
    doc = json.loads(out)
    assert code == 2 and "1 of 3 file(s)" in err
    assert doc["error"]["exit_code"] == 2 and [f["name"] for f in doc["files"] if "error" in f] == ["bad.csv"]


def test_detect_nab_takes_the_data_folder_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    _csv(tmp_path / "nab" / "data" / "realX" / "one.csv", "timestamp,value,label")
    code, _, err = _run(
        ["detect", "nab", "--data", str(tmp_path / "nab" / "data"), "--out", str(tmp_path / "o")], capsys
    )
    assert code == 0, err
    assert (tmp_path / "o" / "realX" / "one.csv").is_file()

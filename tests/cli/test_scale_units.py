"""``hx scale simulate``: the trace's scale is a stated option (--peak-rps) shown with the results, and an option
that would be ignored is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hx.cli.main import main

DAY = 86400.0


@pytest.fixture
def events_csv(tmp_path: Path) -> Path:
    """Three days of events per 5 minutes with a minute_index-free ISO time column and two value columns."""
    t = 1_700_006_400.0 + np.arange(0.0, 3 * DAY, 300.0)
    y = 400.0 + 300.0 * np.sin(2 * np.pi * t / DAY)
    rows = [f"{int(a)},{b:.1f},{b / 3:.1f}" for a, b in zip(t, y, strict=True)]
    path = tmp_path / "events.csv"
    path.write_text("timestamp,events,users\n" + "\n".join(rows) + "\n")
    return path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_peak_rps_scales_the_trace_and_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], events_csv: Path
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    base = ["--json", "scale", "simulate", "--trace", str(events_csv), "--value-column", "events",
            "--policy", "static", "--days", "0.5"]  # fmt: skip
    code, out, err = _run(base, capsys)
    assert code == 0, err
    full = json.loads(out)
    code, out, err = _run([*base, "--peak-rps", "250"], capsys)
    assert code == 0, err
    quarter = json.loads(out)
    assert full["peak_rps"] == 1000.0 and quarter["peak_rps"] == 250.0 and quarter["capacity_rps"] == 50.0
    assert quarter["results"][0]["replica_hours"] < 0.5 * full["results"][0]["replica_hours"]
    code, out, err = _run([*base[1:], "--peak-rps", "250"], capsys)
    assert code == 0 and "peak 250 req/s" in " ".join(out.split()), out


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--policy", "hpa", "--calibration-alpha", "auto"], ["--calibration-alpha", "--policy predictive"]),
        (["--policy", "hpa", "--peak-rps", "0"], ["--peak-rps", "positive"]),
        (["--policy", "hpa", "--capacity", "-1"], ["--capacity", "positive"]),
    ],
)
def test_an_option_that_would_be_ignored_or_is_not_positive_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    events_csv: Path,
    extra: list[str],
    named: list[str],
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    code, _, err = _run(["scale", "simulate", "--trace", str(events_csv), "--value-column", "events", *extra], capsys)
    assert code == 2 and all(n in err for n in named), err


def test_a_trace_too_short_is_refused_naming_the_file_and_what_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("minute,requests\n0,5\n1,6\n2,7\n3,5\n4,6\n")
    code, _, err = _run(["forecast", "--trace", str(tiny), "--step", "60"], capsys)
    assert code == 2 and "tiny.csv: 5 rows over 4 min" in err and "need at least 8" in err, err
    code, _, err = _run(["scale", "simulate", "--trace", str(tiny), "--step", "60"], capsys)
    assert code == 2 and "tiny.csv:" in err and "give at least 2 days" in err and "fewer" not in err, err

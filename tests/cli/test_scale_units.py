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
    assert code == 0 and "99.5th percentile scaled to 250 req/s" in " ".join(out.split()), out
    assert "notes" not in full
    # rows repeating a time are averaged with it, and the replay says so (hx forecast did; simulate did not)
    lines = events_csv.read_text().splitlines()
    twice = tmp_path / "twice.csv"
    twice.write_text("\n".join([*lines[:11], lines[10], lines[10], *lines[11:]]) + "\n")
    code, out, err = _run(["--json", "scale", "simulate", "--trace", str(twice), *base[5:]], capsys)
    assert code == 0 and json.loads(out)["notes"] == ["2 rows repeat earlier rows' times: averaged with them"], err
    code, out, err = _run(["scale", "simulate", "--trace", str(twice), *base[5:]], capsys)
    assert code == 0 and "note: 2 rows repeat earlier rows' times" in out


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
    assert "replaying 1 day of a" in err  # not "1 days"
    code, out, err = _run(["--json", "scale", "simulate", "--trace", str(tiny), "--step", "60"], capsys)
    assert code == 2 and json.loads(out)["error"]["field"] == "--days", out  # the option, not the argument 'days'


@pytest.mark.parametrize("text", ["timestamp,value\n", "timestamp,value\n\n"], ids=["header", "header-blank"])
@pytest.mark.parametrize(
    "command", [["forecast"], ["--json", "forecast"], ["scale", "simulate"]], ids=["forecast", "json", "simulate"]
)
def test_a_header_only_trace_is_refused_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str, command: list[str]
) -> None:
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    f = tmp_path / "hdr_only.csv"
    f.write_text(text)
    code, _, err = _run([*command, "--trace", str(f)], capsys)
    assert code == 2 and "hdr_only.csv: no data rows" in err and "Traceback" not in err, err


def test_forecast_options_are_named_in_their_own_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], events_csv: Path
) -> None:
    from hx.forecast import FORECASTERS

    monkeypatch.setenv("HX_HOME", str(tmp_path))
    base = ["forecast", "--trace", str(events_csv), "--value-column", "events"]
    code, _, err = _run([*base, "--model", "seasonal"], capsys)
    assert code == 2 and "--model must be one of" in err and "'seasonal'" in err and "rows over" not in err, err
    assert all(name in err for name in FORECASTERS.names())
    code, _, err = _run([*base, "--eval", "--candidate", "gbm"], capsys)
    assert code == 2 and "--candidate must be one of" in err and "'gbm'" in err, err
    for bad in ("0", "-60", "nan"):
        code, _, err = _run([*base, "--horizon", bad], capsys)
        assert code == 2 and "--horizon must be a positive number of seconds" in err and "rows over" not in err, err
    code, _, err = _run([*base, "--step", "60"], capsys)  # real times 300 s apart: --step would be ignored
    assert code == 2 and "events.csv" in err and "5 min apart" in err and "drop --step" in err, err
    missing = tmp_path / "nope.csv"
    for command in (["forecast"], ["scale", "simulate"]):
        code, _, err = _run([*command, "--trace", str(missing)], capsys)
        assert code == 2 and f"no such file: {missing}" in " ".join(err.split()), err


def test_forecast_help_lists_the_models_and_says_what_eval_scores(capsys: pytest.CaptureFixture[str]) -> None:
    from hx.cli.scale import MODEL_NAMES
    from hx.forecast import FORECASTERS

    assert sorted(MODEL_NAMES) == FORECASTERS.names()
    code = main(["forecast", "--help"])
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert code == 0 and all(f"{name}," in text or f"{name} " in text for name in MODEL_NAMES), text
    assert "every step 1..horizon" in text, text


def test_simulate_help_says_the_99_5th_percentile_is_scaled(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scale", "simulate", "--help"])
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert code == 0 and "99.5th percentile is scaled to" in text and "busiest interval is" not in text, text


def test_forecast_eval_scores_every_step_of_the_horizon_from_many_origins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A day ahead: the last value and yesterday's profile are one forecast at step 288 alone, not over 1..288."""
    monkeypatch.setenv("HX_HOME", str(tmp_path))
    rng = np.random.default_rng(7)
    t = 1_700_006_400.0 + np.arange(0.0, 4 * DAY, 300.0)
    y = 400.0 + 300.0 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 20, t.size)
    f = tmp_path / "day.csv"
    f.write_text("timestamp,value\n" + "".join(f"{a:.0f},{b:.2f}\n" for a, b in zip(t, y, strict=True)))
    args = ["forecast", "--trace", str(f), "--horizon", "86400", "--model", "seasonal_naive", "--eval"]
    code, out, err = _run(["--json", *args], capsys)
    assert code == 0, err
    ev = json.loads(out)["eval"]
    models = {m["model"]: m for m in ev["models"]}
    assert ev["scored_steps"] == [1, 288] and ev["horizon_steps"] == 288
    assert ev["origins"] >= 12 and ev["folds"] == 2
    assert models["naive"]["mase"] > 2 * models["seasonal_naive"]["mase"]
    code, out, err = _run(args, capsys)
    text = " ".join(out.split())
    assert code == 0 and f"steps 1-288 (5 min to 24 h ahead) scored, {ev['origins']} origins" in text, text

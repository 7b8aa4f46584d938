"""``hx scale simulate`` and ``hx forecast`` through the main app (exit codes, --json, the PNG)."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hx.cli.main import app, main
from hx.cli.scale import register

DAY = 86400.0


def _wire() -> None:
    """Until the lead wires the groups into hx.cli.main, add them here (idempotent)."""
    if "scale" not in {g.name for g in app.registered_groups}:
        register(app)


@pytest.fixture
def trace_csv(tmp_path: Path) -> Path:
    """Three days of a daily-shaped rate at 5-minute steps, with a gap, zeros, a spike and rows out of order."""
    t = 1_700_006_400.0 + np.arange(0.0, 3 * DAY, 300.0)
    y = 400.0 + 300.0 * np.sin(2 * np.pi * t / DAY)
    y[50:60] = np.nan
    y[100:105] = 0.0
    y[200] = 5000.0
    rows = [f"{int(a)},{'' if np.isnan(b) else round(b, 2)}" for a, b in zip(t, y, strict=True)]
    rows[10], rows[11] = rows[11], rows[10]
    path = tmp_path / "trace.csv"
    path.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    return path


def run(args: list[str], home: Path) -> tuple[int, str, str]:
    _wire()
    r = CliRunner().invoke(app, args, env={"HX_HOME": str(home)}, catch_exceptions=True)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        code = main(args)  # map hx errors to their exit codes the way the entry point does
        return code, r.stdout, str(r.exception)
    return r.exit_code, r.stdout, r.stderr if r.stderr_bytes is not None else ""


def test_simulate_json_and_png(tmp_path: Path, trace_csv: Path) -> None:
    png = tmp_path / "out.png"
    code, out, err = run(["--json", "scale", "simulate", "--trace", str(trace_csv), "--policy", "hpa",
                          "--policy", "predictive", "--days", "0.25", "--png", str(png)], tmp_path)  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert [r["policy"] for r in data["results"]] == ["hpa", "predictive"]
    assert all(r["replica_hours"] > 0 and r["slo_violation_minutes"] >= 0 for r in data["results"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_table_and_bad_input(tmp_path: Path, trace_csv: Path) -> None:
    code, out, _ = run(
        ["scale", "simulate", "--trace", str(trace_csv), "--policy", "static", "--days", "0.1"], tmp_path
    )
    assert code == 0 and "replica-hours" in out
    code, _, err = run(["scale", "simulate", "--trace", str(trace_csv), "--policy", "magic"], tmp_path)
    assert code == 2 and "policy" in err
    code, _, err = run(["scale", "simulate", "--trace", str(trace_csv), "--days", "10"], tmp_path)
    assert code == 2 and "history" in err
    code, _, err = run(["scale", "simulate", "--trace", "nope"], tmp_path)
    assert code == 2
    kpi = tmp_path / "kpi.csv"  # a KPI that swings around 0 is not a demand rate: refused, not half gaps
    t = 1_700_006_400.0 + np.arange(0.0, 3 * DAY, 300.0)
    kpi.write_text("timestamp,value\n" + "".join(f"{a:.0f},{np.sin(a / 7200.0):.3f}\n" for a in t))
    code, _, err = run(["scale", "simulate", "--trace", str(kpi), "--policy", "static", "--days", "0.5"], tmp_path)
    assert code == 2 and "below 0" in err and "rate" in err


def test_forecast_trace_json_and_table(tmp_path: Path, trace_csv: Path) -> None:
    code, out, err = run(["--json", "forecast", "--trace", str(trace_csv), "--model", "seasonal_naive"], tmp_path)
    assert code == 0, err
    data = json.loads(out)
    assert len(data["forecast"]) == 12
    assert all(r["lower"] <= r["mean"] <= r["upper"] and r["lower"] >= 0 for r in data["forecast"])
    code, out, _ = run(["forecast", "--trace", str(trace_csv), "--horizon", "1800", "--model", "naive"], tmp_path)
    assert code == 0 and "upper" in out
    code, _, _ = run(["forecast"], tmp_path)
    assert code == 2


def test_forecast_a_service_of_the_sim(tmp_path: Path) -> None:
    code, out, err = run(["--json", "--set", "sim.warmup_s=21600", "--set", "sim.services=2", "--set",
                          "sim.checkpoint=false", "forecast", "frontend", "--model", "naive"], tmp_path)  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["series"] == "frontend/request_rate"


def test_simulate_the_calibrated_mode(tmp_path: Path, trace_csv: Path) -> None:
    base = ["--json", "scale", "simulate", "--trace", str(trace_csv), "--policy", "predictive", "--days", "0.25"]
    code, out, err = run([*base, "--calibration-alpha", "0.05"], tmp_path)
    assert code == 0, err
    calibrated = json.loads(out)["results"][0]
    code, out, err = run(base, tmp_path)
    assert code == 0, err
    default = json.loads(out)["results"][0]
    assert calibrated["replica_hours"] > 0 and calibrated != default
    code, _, err = run([*base, "--calibration-alpha", "0.9"], tmp_path)
    assert code == 2


def test_simulate_at_a_coarser_resolution(tmp_path: Path) -> None:
    t = 1_700_006_400.0 + np.arange(0.0, 2 * DAY, 60.0)  # per-minute rows, bursty every 5th minute
    y = 300.0 + 200.0 * np.sin(2 * np.pi * t / DAY) + 400.0 * (np.arange(t.size) % 5 == 0)
    path = tmp_path / "minutes.csv"
    path.write_text("timestamp,value\n" + "\n".join(f"{int(a)},{b:.2f}" for a, b in zip(t, y, strict=True)) + "\n")
    base = ["--json", "scale", "simulate", "--trace", str(path), "--policy", "hpa", "--days", "0.25"]
    code, out, err = run(base, tmp_path)
    assert code == 0, err
    raw = json.loads(out)["results"][0]
    code, out, err = run([*base, "--resolution", "300"], tmp_path)
    assert code == 0, err
    means = json.loads(out)["results"][0]
    assert 0 < means["replica_hours"] < raw["replica_hours"]  # the bursts are averaged away: no replicas held for them
    code, _, err = run([*base, "--resolution", "420"], tmp_path)  # does not divide 5 minutes
    assert code == 2 and "--resolution" in err and "resolution_s" not in err


@pytest.mark.parametrize(
    ("option", "value"),
    [("--days", "0"), ("--days", "-1"), ("--days", "inf"), ("--days", "0.0001"), ("--startup", "-5"),
     ("--startup", "inf"), ("--startup", "3601")],
)  # fmt: skip
def test_simulate_names_a_bad_option(tmp_path: Path, trace_csv: Path, option: str, value: str) -> None:
    code, out, err = run(["scale", "simulate", "--trace", str(trace_csv), "--policy", "hpa", option, value], tmp_path)
    assert code == 2 and option in err, (out, err)


@pytest.mark.parametrize(("peak", "capacity"), [("1e300", "50"), ("35001", "50"), ("1000", "1e-300")])
def test_simulate_refuses_a_peak_the_policies_cannot_size(
    tmp_path: Path, trace_csv: Path, peak: str, capacity: str
) -> None:
    """A peak past 1000 replicas of --capacity (at 70 %) is named, not numpy's 'Maximum allowed dimension exceeded'."""
    args = ["scale", "simulate", "--trace", str(trace_csv), "--policy", "hpa", "--peak-rps", peak]
    code, out, err = run([*args, "--capacity", capacity], tmp_path)
    assert code == 2 and "--peak-rps" in err and "1000 replicas" in err, (out, err)


def test_simulate_names_the_option_where_the_replay_names_its_argument() -> None:
    from hx.cli.scale import _OPTIONS
    from hx.cli.session import named_options
    from hx.errors import BadInput

    with pytest.raises(BadInput) as caught, named_options(_OPTIONS):
        raise BadInput("days must be > 0, got inf", field="days")
    assert str(caught.value) == "--days must be > 0, got inf" and caught.value.data["field"] == "--days"
    with pytest.raises(BadInput) as caught, named_options(_OPTIONS):
        raise BadInput("startup_s must be a number >= 0.0, got inf", field="startup_s")
    assert str(caught.value) == "--startup must be a number >= 0.0, got inf"


def test_forecast_reads_an_index_column_with_a_declared_step(tmp_path: Path) -> None:

    f = tmp_path / "minutes.csv"
    y = 100 + 50 * np.sin(2 * np.pi * np.arange(3 * 1440) / 1440)
    f.write_text("minute_index,requests\n" + "".join(f"{i},{v:.2f}\n" for i, v in enumerate(y)))
    code, _, err = run(["--json", "forecast", "--trace", str(f), "--model", "seasonal_naive"], tmp_path)
    assert code == 2 and "minute_index" in err and "--step" in err
    code, out, err = run(
        ["--json", "forecast", "--trace", str(f), "--model", "seasonal_naive", "--step", "60"], tmp_path
    )
    assert code == 0, err
    first = datetime.fromisoformat(json.loads(out)["forecast"][0]["at"])
    assert first.year >= 2025  # real, upcoming dates; not 1970


def test_forecast_eval_prints_mase_against_seasonal_naive(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    t = 1_700_006_400.0 + np.arange(0.0, 4 * DAY, 300.0)
    y = 400.0 + 300.0 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 30, t.size)
    f = tmp_path / "noisy.csv"
    f.write_text("timestamp,value\n" + "".join(f"{a:.0f},{b:.2f}\n" for a, b in zip(t, y, strict=True)))
    code, out, err = run(["--json", "forecast", "--trace", str(f), "--eval", "--horizon", "1800"], tmp_path)
    assert code == 0, err
    ev = json.loads(out)["eval"]
    models = {m["model"]: m for m in ev["models"]}
    assert {"seasonal_naive", "naive", "holt_winters"} <= set(models) and ev["forecast_model"] == "holt_winters"
    assert models["seasonal_naive"]["vs_seasonal_naive"] == 1.0 and ev["folds"] == 2
    assert all(m["mase"] > 0 for m in models.values()) and ev["best"] in models
    code, out, _ = run(["forecast", "--trace", str(f), "--eval", "--horizon", "1800"], tmp_path)
    assert code == 0 and "vs seasonal naive" in out and "reference" in out
    short = tmp_path / "short.csv"
    short.write_text("timestamp,value\n" + "".join(f"{a:.0f},{b:.2f}\n" for a, b in zip(t[:300], y[:300], strict=True)))
    code, _, err = run(["forecast", "--trace", str(short), "--eval", "--horizon", "1800"], tmp_path)
    assert code == 2 and "at least two days" in err


def test_forecast_keeps_an_hourly_series_hourly_and_a_signal_that_goes_negative(tmp_path: Path) -> None:
    """An hourly file is forecast hour by hour (on a 5-minute grid it was eleven gaps in twelve points, and Holt-Winters
    ran away); a user's signal below 0 is kept (it was read as a missing rate); 1-minute rows are averaged into 5
    minutes, and the output says which."""
    t = 1_700_006_400.0 + np.arange(0.0, 8 * DAY, 3600.0)
    y = 200.0 + 100.0 * np.sin(2 * np.pi * t / DAY)
    hourly = tmp_path / "hourly.csv"
    hourly.write_text("timestamp,value\n" + "".join(f"{a:.0f},{b:.2f}\n" for a, b in zip(t, y, strict=True)))
    code, out, err = run(["--json", "forecast", "--trace", str(hourly), "--horizon", "10800", "--eval"], tmp_path)
    assert code == 0, err
    got = json.loads(out)
    assert got["grid_s"] == 3600.0 and len(got["forecast"]) == 3 and "own step, 1 h" in got["grid"]
    assert all(90.0 < r["mean"] < 310.0 for r in got["forecast"])
    assert got["eval"]["grid_s"] == 3600.0 and got["eval"]["horizon_steps"] == 3
    m = 1_700_006_400.0 + np.arange(0.0, 3 * DAY, 60.0)
    wave = tmp_path / "wave.csv"
    wave.write_text("timestamp,value\n" + "".join(f"{a:.0f},{np.sin(2 * np.pi * a / DAY):.4f}\n" for a in m))
    code, out, err = run(["--json", "forecast", "--trace", str(wave), "--horizon", "86400"], tmp_path)
    assert code == 0, err
    got = json.loads(out)
    assert got["grid_s"] == 300.0 and "averaged" in got["grid"]
    assert min(r["mean"] for r in got["forecast"]) < -0.5  # the wave's lower half is forecast, not cut at 0


def test_forecast_eval_prints_a_series_idle_at_zero(tmp_path: Path) -> None:
    """A series at 0 but for two intervals: every model makes no error; the table says n/a, no crash."""
    t = 1_700_006_400.0 + np.arange(0.0, 4 * DAY, 300.0)
    y = np.zeros(t.size)
    y[[40, 100]] = 3.0  # on the first day: the judged days are all 0
    f = tmp_path / "idle.csv"
    f.write_text("timestamp,value\n" + "".join(f"{a:.0f},{b:.1f}\n" for a, b in zip(t, y, strict=True)))
    code, out, err = run(["forecast", "--trace", str(f), "--eval"], tmp_path)
    assert code == 0, err
    assert "n/a" in out and "reference" in out


def test_simulate_chooses_the_calibration_alpha_itself(tmp_path: Path, trace_csv: Path) -> None:
    base = ["--json", "scale", "simulate", "--policy", "predictive", "--days", "0.25", "--calibration-alpha"]
    code, out, err = run([*base, "auto", "--trace", str(trace_csv)], tmp_path)
    assert code == 0, err
    short = json.loads(out)["calibration"]  # 2.75 days before the replay: a choice needs 3
    assert short["chosen"] is False and short["alpha"] == 0.01 and "conservative default" in short["reason"]
    t = 1_700_006_400.0 + np.arange(0.0, 3.5 * DAY, 300.0)
    y = 400.0 + 300.0 * np.sin(2 * np.pi * t / DAY) * (1.0 + 0.05 * np.cos(t / 977.0))
    path = tmp_path / "long.csv"
    path.write_text("timestamp,value\n" + "\n".join(f"{int(a)},{b:.2f}" for a, b in zip(t, y, strict=True)) + "\n")
    code, out, err = run([*base, "auto", "--trace", str(path)], tmp_path)
    assert code == 0, err
    data = json.loads(out)
    c = data["calibration"]
    assert c["chosen"] is True and c["tried"] and c["reason"].startswith(f"chose {c['alpha']:g} on the last 1 day ")
    window_end, replay_start = (datetime.fromisoformat(x) for x in (c["window"][1], data["replayed"][0]))
    assert window_end <= replay_start  # only days before the replay (ISO 8601, as every time printed)
    code, _, err = run([*base, "often", "--trace", str(path)], tmp_path)
    assert code == 2 and "--calibration-alpha" in err


def test_forecast_eval_on_a_real_trace_file_with_a_dropout(tmp_path: Path) -> None:
    """The last 6 days of NASA's per-minute file as it is (ISO times, 3 columns), with a daily 29-minute dropout
    written into it: every model's rolling-origin MASE is printed; Holt-Winters stays in range, unguarded."""
    src = Path(os.environ.get("HX_DATA_DIR", "")) / "traces/nasa-http-1995/nasa_http_1995_requests_per_minute.csv"
    if not src.is_file():
        pytest.skip("the NASA trace is not under $HX_DATA_DIR")
    lines = src.read_text().splitlines()
    header, rows = lines[0], lines[-6 * 1440 :]
    for i, row in enumerate(rows):
        at, _req, status = row.split(",")
        if "T10:13" <= at[10:16] < "T10:42" and status == "ok":  # 29 minutes a day, near zero
            rows[i] = f"{at},{i % 3},{status}"
    f = tmp_path / "nasa_dropout.csv"
    f.write_text(header + "\n" + "\n".join(rows) + "\n")
    args = ["forecast", "--trace", str(f), "--value-column", "requests", "--eval", "--horizon", "3600"]
    code, out, err = run(["--json", *args], tmp_path)
    assert code == 0, err
    data = json.loads(out)
    assert "fallback" not in data and data["model"] == "holt_winters"
    models = {m["model"]: m for m in data["eval"]["models"]}
    assert data["eval"]["folds"] == 3 and {"seasonal_naive", "naive", "holt_winters"} <= set(models)
    hw = models["holt_winters"]
    assert hw["guard_fired"] == 0 and hw["max_range_excess"] < 1.0 and hw["vs_seasonal_naive"] < 1.0
    code, out, _ = run(args, tmp_path)
    assert code == 0 and "rolling-origin backtest" in out and "guard" in out and "holt_winters" in out


def test_the_eval_help_gives_the_origins_the_report_spreads(tmp_path: Path) -> None:
    from hx.forecast.report import MAX_EVAL_ORIGINS, MIN_EVAL_ORIGINS

    _wire()
    out = CliRunner().invoke(app, ["forecast", "--help"], env={"COLUMNS": "400"}).stdout
    assert f"{MIN_EVAL_ORIGINS} to {MAX_EVAL_ORIGINS} origins" in " ".join(out.split())


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["forecast", "--trace", "nasa", "--value-column", "nosuch", "--time-column", "nosuch", "--signal", "nosuch",
          "--step", "17", "--candidate", "gbt"], "--candidate needs --eval"),
        (["forecast", "--trace", "nasa", "--candidate", "gbt"], "--candidate needs --eval"),
        (["forecast", "--trace", "nasa", "--value-column", "nosuch"],
         "--value-column applies to a CSV --trace, not the named trace 'nasa'"),
        (["forecast", "--trace", "nasa", "--step", "17"],
         "--step applies to a CSV --trace, not the named trace 'nasa'"),
        (["forecast", "--trace", "nasa", "--signal", "nosuch"], "--signal applies to a SERVICE, not --trace nasa"),
        (["forecast", "frontend", "--time-column", "t"], "--time-column applies to a CSV --trace, not a SERVICE"),
        (["scale", "simulate", "--trace", "nasa", "--days", "0.1", "--step", "17", "--value-column", "nosuch"],
         "--step applies to a CSV --trace, not the named trace 'nasa'"),
        (["scale", "simulate", "--trace", "nasa", "--days", "0.1", "--value-column", "nosuch"],
         "--value-column applies to a CSV --trace, not the named trace 'nasa'"),
    ],
)  # fmt: skip
def test_an_option_that_would_be_ignored_is_refused(tmp_path: Path, args: list[str], says: str) -> None:
    """These options were silently ignored (exit 0, the trace read as if they were not given)."""
    code, out, err = run(args, tmp_path)
    assert code == 2 and says in err, (out, err)


def test_the_csv_options_still_read_a_csv_trace(tmp_path: Path, trace_csv: Path) -> None:
    args = ["--json", "forecast", "--trace", str(trace_csv), "--model", "naive", "--time-column", "timestamp"]
    code, out, err = run([*args, "--value-column", "value", "--eval", "--candidate", "seasonal_naive"], tmp_path)
    assert code == 0, err
    assert "seasonal_naive" in {m["model"] for m in json.loads(out)["eval"]["models"]}


def test_forecast_says_the_times_of_a_file_without_dates_are_laid_by_hx(tmp_path: Path) -> None:
    # a minute_index file with --step 60 was forecast at "2026-12-06T00:05" without a word that no such date is in it
    f = tmp_path / "minutes.csv"
    y = 100 + 50 * np.sin(2 * np.pi * np.arange(3 * 1440) / 1440)
    f.write_text("minute_index,requests\n" + "".join(f"{i},{v:.2f}\n" for i, v in enumerate(y)))
    args = ["--json", "forecast", "--trace", str(f), "--model", "seasonal_naive", "--step", "60"]
    code, out, err = run(args, tmp_path)
    assert code == 0, err
    grid = json.loads(out)["grid"]
    assert "the file holds no dates (column 'minute_index' is an index): its rows are laid 60 s apart" in grid
    dated = tmp_path / "dated.csv"  # real times that --step agrees with: nothing to say
    dated.write_text("timestamp,requests\n" + "".join(f"{1_700_006_400 + 60 * i},{v:.2f}\n" for i, v in enumerate(y)))
    code, out, err = run([*args[:3], str(dated), *args[4:]], tmp_path)
    assert code == 0 and "no dates" not in json.loads(out)["grid"], err

"""``hx scale simulate`` (replay a trace under a scaling policy) and ``hx forecast`` (a forecast table)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.table import Table

from hx.cli.session import JSON, ctx_of, named_options, number, seed_option
from hx.errors import BadInput
from hx.files import writing
from hx.readers import TimeAxis

scale_app = typer.Typer(help="Scaling policies replayed over traces.", no_args_is_help=True)

STEP = typer.Option(
    None, "--step", help="seconds between rows, for a CSV whose time column is an index (or that has none)"
)
TIME_COLUMN = typer.Option(None, "--time-column", help="the CSV's time or index column (default: found by name)")
VALUE_COLUMN = typer.Option(None, "--value-column", help="the CSV's value column (default: its only numeric one)")


def _axis(step: float | None, time_column: str | None, value_column: str | None) -> TimeAxis:
    return TimeAxis(step_s=step, time_column=time_column, value_column=value_column)


def register(app: typer.Typer) -> None:
    """Add ``hx scale ...`` and ``hx forecast`` (a plain command, so its options may follow SERVICE)."""
    app.add_typer(scale_app, name="scale")
    app.command("forecast")(forecast)


@scale_app.command("simulate")
def simulate(
    ctx: typer.Context,
    trace: str = typer.Option(
        ...,
        "--trace",
        help="nasa, alibaba, azure, or a CSV file (a time or index column and a value column, in any unit: the "
        "trace is scaled so that its 99.5th percentile is --peak-rps requests a second)",
    ),
    policy: list[str] = typer.Option(["predictive"], "--policy", help="hpa, predictive or static (repeatable)"),
    days: float | None = typer.Option(None, "--days", help="days replayed at the end of the trace (default: 1)"),
    png: Path | None = typer.Option(None, "--png", dir_okay=False, help="write a plot of demand and replicas here"),
    capacity: float = typer.Option(50.0, "--capacity", help="req/s one replica serves"),
    peak_rps: float = typer.Option(
        1000.0,
        "--peak-rps",
        help="req/s the trace's 99.5th percentile is scaled to (its few busiest intervals replay above it)",
    ),
    startup: float = typer.Option(
        120.0,
        "--startup",
        parser=number(0.0, 3600.0),
        help="replica start-up time, seconds (at most 3600: the predictive policy forecasts an hour ahead)",
    ),
    seed: int = seed_option(1),
    resolution: float | None = typer.Option(
        None,
        "--resolution",
        help="replay the trace's means over buckets of this many seconds (e.g. 300; default: its own rows)",
    ),
    calibration_alpha: str | None = typer.Option(
        None,
        "--calibration-alpha",
        help="predictive in calibrated mode: how often its demand bound may be exceeded (0.0005-0.49), or auto: "
        "chosen by the scaler's own rule from the trace's last days before the replay (after a day's warm-up)",
    ),
    step: float | None = STEP,
    time_column: str | None = TIME_COLUMN,
    value_column: str | None = VALUE_COLUMN,
    as_json: bool = JSON,
) -> None:
    """Replay the last days of a trace through the simulated fleet; SLO-violation minutes and replica-hours."""
    from hx.lab.scaling_plot import plot_scaling
    from hx.lab.scaling_replay import (
        POLICIES,
        STEP_S,
        auto_choice,
        calibrated_config,
        prepare_trace,
        replay,
        usable_warmup,
    )

    c = ctx_of(ctx, as_json)
    if days is not None and not (math.isfinite(days) and days > 0):  # 0 would silently mean the default day
        raise BadInput(f"--days must be a positive number of days, got {days:g}", field="--days")
    if days is not None and days * 86400.0 < STEP_S:  # no step replayed: an empty result
        raise BadInput(f"--days {days:g} ({days * 86400.0:g} s) is shorter than one replay step ({STEP_S:g} s)",
                       field="--days")  # fmt: skip
    for p in policy:
        if p not in POLICIES:
            raise BadInput(f"policy must be one of {', '.join(POLICIES)}, got {p!r}", field="--policy")
    axis = _axis(step, time_column, value_column)
    _check_rates(capacity, peak_rps)
    alpha = _alpha_option(calibration_alpha)
    if alpha is not None and "predictive" not in policy:
        raise BadInput(
            "--calibration-alpha applies to the predictive policy: add --policy predictive", field="--calibration-alpha"
        )
    _check_trace(trace)
    _check_csv_options(trace, step, time_column, value_column)
    with named_options(_OPTIONS):
        tr = prepare_trace(trace, test_days=days or 1.0, resolution_s=resolution, axis=axis, peak_rps=peak_rps)

    chosen: dict[str, Any] | None = None
    if alpha == "auto" and "predictive" in policy:
        with named_options(_OPTIONS), c.err.status("choosing alpha: what-ifs over the days before the replay"):
            choice, cfg = auto_choice(tr, cap=capacity, startup_s=startup)
        chosen = choice.to_dict()
    elif isinstance(alpha, float):
        cfg = calibrated_config(alpha)

    def run(p: str) -> Any:
        if p != "predictive" or alpha is None:
            return replay(tr, p, cap=capacity, startup_s=startup, seed=seed)
        return replay(tr, p, cap=capacity, startup_s=startup, seed=seed, config=cfg, warmup_s=usable_warmup(tr))

    results: dict[str, Any] = {}
    with named_options(_OPTIONS), c.err.status("replaying") as status:  # 20 s and more without a word before
        for p in dict.fromkeys(policy):
            status.update(f"replaying {tr.name} under {p} ({len(results) + 1} of {len(set(policy))})")
            results[p] = run(p)
    data: dict[str, Any] = {**tr.describe(), "capacity_rps": capacity, "peak_rps": peak_rps, "startup_s": startup,
                            "results": [r.summary() for r in results.values()]}  # fmt: skip
    if chosen is not None:
        data["calibration"] = chosen
    if png is not None:
        first = next(iter(results.values()))
        pred = results.get("predictive")
        band = tuple(pred.band) if pred is not None and pred.band is not None else None
        with writing("--png"):
            plot_scaling(png, first.times, first.demand, band, {p: r.replicas for p, r in results.items()},
                         capacity_rps=capacity, title=f"{tr.name}: replay of {days or 1.0:g} day(s), 99.5th percentile "
                               f"scaled to {peak_rps:g} req/s")  # fmt: skip
        data["png"] = str(png)
    if c.as_json:
        c.emit(data)
        return
    table = Table("policy", "SLO-violation min", "replica-hours", "actions",
                  title=f"{tr.name}: {data['replayed'][0]} .. {data['replayed'][1]} (simulated; 99.5th percentile "
                        f"scaled to {peak_rps:g} req/s, {capacity:g} req/s a replica)")  # fmt: skip
    for r in results.values():
        table.add_row(r.policy, f"{r.slo_violation_minutes:.0f}", f"{r.replica_hours:.1f}", str(r.actions))
    c.console.print(table)
    for note in data.get("notes", []):
        c.console.print(f"note: {note}")
    if chosen is not None:
        c.console.print(
            f"calibration alpha {chosen['alpha']:g}, chosen by the scaler's own rule from the trace's days before the "
            f"replayed ones (as the engine chooses from a service's last days): {chosen['reason']}"
        )
    if png is not None:
        c.console.print(f"plot written to {png}")


#: the replay's argument names and the options that set them (refusals name what the user typed)
_OPTIONS = {"days": "--days", "resolution_s": "--resolution", "peak_rps": "--peak-rps", "timestamps": "--trace",
            "values": "--trace", "trace": "--trace", "startup_s": "--startup", "capacity_rps": "--capacity",
            "cap": "--capacity"}  # fmt: skip


def _check_rates(capacity: float, peak_rps: float) -> None:
    """Both positive and finite, and --peak-rps within what the replayed policies can size: at most
    :data:`~hx.lab.scaling_replay.MAX_REPLICAS` replicas of --capacity at the target utilization (1e300 sized a
    fleet numpy could not allocate)."""
    from hx.lab.scaling_replay import MAX_REPLICAS, TARGET

    for name, v in (("--capacity", capacity), ("--peak-rps", peak_rps)):
        if not (math.isfinite(v) and v > 0):
            raise BadInput(f"{name} must be a positive number of requests a second, got {v:g}", field=name)
    most = MAX_REPLICAS * capacity * TARGET
    if peak_rps > most:
        raise BadInput(
            f"--peak-rps {peak_rps:g} needs more than the {MAX_REPLICAS} replicas the policies scale to at --capacity "
            f"{capacity:g} (at {TARGET:.0%} utilization); give at most {most:g}, or raise --capacity",
            field="--peak-rps",
        )


def _alpha_option(value: str | None) -> float | str | None:
    """``--calibration-alpha``: a number in [0.0005, 0.49] or ``auto``."""
    if value is None or value.strip().lower() == "auto":
        return None if value is None else "auto"
    try:
        a = float(value)
    except ValueError:
        raise BadInput(
            f"--calibration-alpha must be a number or auto, got {value!r}", field="--calibration-alpha"
        ) from None
    if not 0.0005 <= a <= 0.49:
        raise BadInput(
            f"--calibration-alpha must be in [0.0005, 0.49] or auto, got {value}", field="--calibration-alpha"
        )
    return a


#: the names --model and --candidate take (a test keeps it equal to the forecaster registry's)
MODEL_NAMES = ("holt_winters", "seasonal_naive", "naive", "gbt", "combination", "lstm")


def forecast(
    ctx: typer.Context,
    service: str | None = typer.Argument(None, help="a service of the configured signal source"),
    trace: str | None = typer.Option(None, "--trace", help="forecast the end of nasa/alibaba/azure or a CSV file"),
    horizon: float = typer.Option(3600.0, "--horizon", help="seconds ahead"),
    signal: str | None = typer.Option(None, "--signal", help="with SERVICE: the signal (default: request_rate)"),
    model: str = typer.Option("holt_winters", "--model", help=f"the forecaster: {', '.join(MODEL_NAMES)}"),
    step: float | None = STEP,
    time_column: str | None = TIME_COLUMN,
    value_column: str | None = VALUE_COLUMN,
    evaluate: bool = typer.Option(
        False,
        "--eval",
        help="also backtest the models with rolling origins over the last (up to) 3 days, refitted each day, "
        "12 to 96 origins (hx.forecast.report; one every quarter horizon when that fits), scoring every "
        "step 1..horizon; prints their MASE (scaled by the in-sample seasonal-naive error, or by another naive "
        "one it names when that is 0) against seasonal naive",
    ),
    candidate: list[str] = typer.Option(
        [], "--candidate", help="with --eval: another model to backtest (repeatable; e.g. gbt, combination)"
    ),
    as_json: bool = JSON,
) -> None:
    """Print a forecast (mean and 80 % band) of a service's signal, or of the end of a trace."""
    from hx.forecast.report import check_model, forecast_report

    c = ctx_of(ctx, as_json)
    if (service is None) == (trace is None):
        raise BadInput("give a SERVICE or --trace (one of them)", field="service")
    if not (math.isfinite(horizon) and horizon > 0):
        raise BadInput(f"--horizon must be a positive number of seconds, got {horizon:g}", field="--horizon")
    check_model(model, "--model")
    for name in candidate:
        check_model(name, "--candidate")
    if candidate and not evaluate:
        raise BadInput("--candidate needs --eval (candidates are backtested beside the model)", field="--candidate")
    _check_csv_options(trace, step, time_column, value_column)
    if trace is not None and signal is not None:
        raise BadInput(f"--signal applies to a SERVICE, not --trace {trace} (a trace is one series)", field="--signal")
    laid = None
    if trace is not None:
        ts, vs, label, laid = _trace_history(trace, _axis(step, time_column, value_column))
    else:
        ts, vs, label = _service_history(ctx, str(service), signal or "request_rate")
    doing = "forecasting and backtesting (rolling origins)" if evaluate else "forecasting"
    try:
        with c.err.status(doing):
            data = forecast_report(
                ts, vs, horizon, model=model, label=label, evaluate=evaluate, candidates=candidate,
                rates=not _is_file(trace),  # a user's CSV may hold a signal that goes negative; a rate may not
                field="--trace" if trace is not None else "service",
            )  # fmt: skip
    except BadInput as err:
        if err.data.get("field") == "eval":
            raise BadInput(f"--eval: {err}", field="--eval") from None
        raise
    if laid:
        data["grid"] = f"{data['grid']}; {laid}"
    if c.as_json:
        c.emit(data)
        return
    table = Table(
        "time (UTC)", "lower", "mean", "upper", title=f"{label}: {data['model']}, {data['level']:.0%} interval"
    )
    for r in data["forecast"]:
        table.add_row(str(r["at"]), f"{r['lower']:.4g}", f"{r['mean']:.4g}", f"{r['upper']:.4g}")
    c.console.print(table)
    c.console.print(data["grid"])
    if "fallback" in data:
        fb = data["fallback"]
        c.console.print(f"[yellow]{fb['fallback_from']} replaced by seasonal naive: {fb['reason']}[/yellow]")
    if evaluate:
        _print_eval(c.console, data["eval"])


def _print_eval(console: Any, ev: dict[str, Any]) -> None:
    from hx.forecast.report import duration

    h = ev["horizon_steps"]
    g = float(ev["grid_s"])
    title = (f"rolling-origin backtest: steps 1-{h} ({duration(g)} to {duration(h * g)} ahead) scored, "
             f"{ev['origins']} origins in {ev['folds']} daily folds")  # fmt: skip
    note = f"MASE and sMAPE (in %) over every step and origin; MASE scaled by the error of the {ev['mase_scale']}; "
    note += "outside: the farthest forecast beyond the history's range, in ranges (before the guard); "
    note += "guard: times it was replaced by seasonal naive; used: the model of the forecast above"
    cols = ("model", "MASE", "sMAPE", "vs seasonal naive", "outside", "guard")
    table = Table(*cols, title=title)
    for m in ev["models"]:
        if m["error"]:
            table.add_row(f"{m['model']}: cannot run: {m['error'][:60]}", "-", "-", "-", "-", "-")
            continue
        mark = " (best)" if m["model"] == ev["best"] else (" (used)" if m["model"] == ev["forecast_model"] else "")
        vs = m["vs_seasonal_naive"]
        versus = "reference" if m["model"] == "seasonal_naive" else ("n/a" if vs is None else f"{vs - 1:+.1%}")
        table.add_row(m["model"] + mark, f"{m['mase']:.3f}", f"{m['smape']:.1f}", versus,
                      f"{m['max_range_excess']:.2f}", f"{m['guard_fired']:.0f}")  # fmt: skip
    console.print(table)
    console.print(note)


def _is_file(trace: str | None) -> bool:
    from hx.sim import TRACE_NAMES

    return trace is not None and trace not in TRACE_NAMES


def _trace_history(trace: str, axis: TimeAxis) -> tuple[np.ndarray, np.ndarray, str, str | None]:
    """The trace's times and values, its name, and a note when its times were laid from --step."""
    from hx.readers import read_series_noted
    from hx.sim import TRACE_NAMES, load_trace

    if trace in TRACE_NAMES:
        ts, vs = load_trace(trace)
        return ts, vs, trace, None
    _check_trace(trace)
    ts, vs, laid = read_series_noted(trace, axis)
    return ts, vs, Path(trace).name, laid


def _check_trace(trace: str) -> None:
    """``--trace``: a named trace or an existing file; a missing path is named as such."""
    from hx.sim import TRACE_NAMES

    if trace in TRACE_NAMES:
        return
    p = Path(trace)
    if p.is_dir():
        raise BadInput(f"--trace: {trace} is a folder; expected a CSV file (or {', '.join(TRACE_NAMES)})",
                       field="--trace", file=trace)  # fmt: skip
    if not p.is_file():
        raise BadInput(f"--trace: no such file: {trace} (expected a CSV file or one of {', '.join(TRACE_NAMES)})",
                       field="--trace", file=trace)  # fmt: skip


def _check_csv_options(
    trace: str | None, step: float | None, time_column: str | None, value_column: str | None
) -> None:
    """--step, --time-column and --value-column say how to read a CSV file: refused (not ignored) with a named
    trace or a SERVICE."""
    from hx.sim import TRACE_NAMES

    given = [o for o, v in (("--step", step), ("--time-column", time_column), ("--value-column", value_column))
             if v is not None]  # fmt: skip
    if not given or _is_file(trace):
        return
    to = f"the named trace {trace!r}" if trace in TRACE_NAMES else "a SERVICE"
    raise BadInput(f"{given[0]} applies to a CSV --trace, not {to}", field=given[0])


def _service_history(ctx: typer.Context, service: str, signal: str) -> tuple[np.ndarray, np.ndarray, str]:
    from hx.wiring import build_world

    settings = ctx_of(ctx).loaded.settings
    source, _actuator, _sim = build_world(settings)
    if source is None:
        raise BadInput("no signal source configured (telemetry.source)", field="telemetry.source")
    now = datetime.now(UTC)
    s = source.signal(service, signal, now - timedelta(days=14), now, 300.0)
    ok = np.isfinite(s.values)
    if not ok.any() or math.isnan(float(np.nanmax(s.values[ok]))):
        raise BadInput(f"no {signal} data for {service} in the last 14 days", field="service")
    first = int(np.argmax(ok))
    return s.timestamps[first:], s.values[first:], f"{service}/{signal}"

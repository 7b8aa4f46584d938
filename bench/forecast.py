"""Forecast accuracy benchmark: sMAPE and MASE at 5, 15 and 60 minutes on three public traces.

    python bench/forecast.py [--quick]

Data: ``$HX_DATA_DIR`` or ``../shared/data`` (relative to the project root), ``traces/``:

- NASA HTTP 1995: requests per 5-minute bucket (the per-minute counts summed; a bucket is a gap unless
  all five minutes were logged: the Jul 28-Aug 1 log gap and the Aug 1-3 hurricane outage are gaps).
  Test week Aug 22-28 (local time), as in the published reference; fitting on everything before.
- Azure VM v2: whole-fleet CPU usage, 5-minute rows, 30 days.  Test: the last 7 days.
- Alibaba 2018: whole-cluster mean CPU %, 5-minute rows, 7.8 days only.  A week of test data would
  leave less than a day to learn from, so the test is the last 2 days and fitting uses the 5.8 before.

Protocol: each model is fitted once on the fitting part; then from every 5-minute origin through the
test period it forecasts 12 steps from the data before the origin, and only then sees the next point
(``update``: state follows the data, parameters are not re-learnt).  No look-ahead.

Reference: the *seasonal naive*, "same time last week" (m = 2016 steps) on NASA and Azure, and
"same time yesterday" (m = 288) on Alibaba, which has no earlier week.  The daily seasonal naive and the
last value are reported too.  MASE of every model on a trace is scaled by one number: the in-sample MAE
of the daily seasonal naive (m = 288) on that trace's fitting data.  Target: MASE at 60 minutes at
least 25 % below the reference on every trace, for the model that ``select_model`` chooses on the
fitting data alone (rolling-origin backtest, two one-day folds, judged on the 60-minute MASE that the
target is about).  The candidates are Holt-Winters, gradient boosting, their equal-weight combination
(``combination``), and the LSTM when torch is installed.

A fourth trace is GENERATED from NASA (``--trace nasa-dropout``): the same per-minute counts with a daily 29-minute
near-zero dropout written in (0-2 requests a minute from 14:13 UTC), bucketed and split like NASA.  Per trace, model
and fold (the two backtest folds, then the test period) the results give how far the model's own point forecasts
left the history's range (in multiples of that range, before the plausibility guard; the target is <= 10) and how
often the guard replaced them.  The classic (non-robust) Holt-Winters is a comparison row, never a candidate.  The
cross-validated figure (the backtest that chose the model, against the reference's backtest) is printed before the
test period's.  ``--no-lstm`` leaves the LSTM out when torch is installed.

``--trace alibaba`` (repeatable) runs some of the traces only; pass ``--out`` then, to keep the full
results file.

Writes bench/results/forecast.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from hx.forecast import (
    FORECASTERS,
    Combination,
    Forecaster,
    HoltWinters,
    SeasonalNaive,
    mase_scale,
    rolling_forecasts,
    select_model,
)
from hx.forecast.base import DAY_S, WEEK_S

ROOT = Path(__file__).resolve().parents[1]
STEP = 300.0
HORIZONS = {"5min": 1, "15min": 3, "60min": 12}
CLASSIC_HW = "holt_winters classic (not robust)"
PUBLISHED_NASA = {"naive_1step_smape": 26.0, "naive_1step_mase": 0.55, "week_smape": 31.2, "week_mase": 0.70}


def data_dir() -> Path:
    return Path(os.environ.get("HX_DATA_DIR") or ROOT.parent / "shared" / "data")


@dataclass
class Trace:
    name: str
    ts: np.ndarray
    y: np.ndarray
    test_start: int
    test_stop: int
    reference: str  # "weekly" or "daily"
    note: str


def _nasa_minutes(base: Path) -> tuple[pd.Series, pd.Series]:
    """NASA's per-minute request counts (NaN where the minute was not logged) and their unix seconds."""
    df = pd.read_csv(base / "traces/nasa-http-1995/nasa_http_1995_requests_per_minute.csv")
    df.columns = ["t", "req", "status"]
    t = pd.to_datetime(df["t"], utc=True)
    secs = ((t - pd.Timestamp(0, tz="UTC")).dt.total_seconds()).astype("int64")
    return secs, df["req"].astype(float).where(df["status"] == "ok")


def _nasa_trace(secs: pd.Series, req: pd.Series, name: str, note: str) -> Trace:
    s = req.groupby(secs // 300 * 300).sum(min_count=5)
    ts, y = s.index.to_numpy(dtype=float), s.to_numpy(dtype=float)
    start = pd.Timestamp("1995-08-22T00:00:00-04:00").timestamp()
    stop = pd.Timestamp("1995-08-29T00:00:00-04:00").timestamp()
    return Trace(name, ts, y, int(np.searchsorted(ts, start)), int(np.searchsorted(ts, stop)), "weekly", note)


def load_nasa(base: Path) -> Trace:
    secs, req = _nasa_minutes(base)
    return _nasa_trace(secs, req, "nasa-http-1995 (req/5min)", "test Aug 22-28 1995 (local), fit Jul 1-Aug 21")


#: the generated dropout: every day from 14:13 UTC (10:13 local, a busy hour) for 29 minutes, 0-2 requests a minute
DROPOUT_START_S = 14 * 3600 + 13 * 60
DROPOUT_MINUTES = 29


def load_nasa_dropout(base: Path) -> Trace:
    """GENERATED from NASA: the same minutes with a daily 29-minute near-zero dropout injected (seeded)."""
    secs, req = _nasa_minutes(base)
    ph = secs % 86400
    drop = (ph >= DROPOUT_START_S) & (ph < DROPOUT_START_S + 60 * DROPOUT_MINUTES) & req.notna()
    rng = np.random.default_rng(18)
    req = req.copy()
    req[drop] = rng.integers(0, 3, int(drop.sum())).astype(float)
    note = (
        "GENERATED: NASA with a daily 29-minute near-zero dropout (0-2 req/min from 14:13 UTC) injected in the "
        "per-minute counts; same split as NASA"
    )
    return _nasa_trace(secs, req, "nasa + daily dropout (generated)", note)


def load_azure(base: Path) -> Trace:
    z = pd.read_csv(base / "traces/azure-vm-v2/vm_cpu_readings_month_aggregated_cpu_mem.csv")
    ts, y = z["timestamp"].to_numpy(dtype=float), z["cpu_usage"].to_numpy(dtype=float)
    n = y.size
    return Trace("azure-vm-v2 (fleet CPU)", ts, y, n - int(WEEK_S / STEP), n, "weekly", "test last 7 of 30 days")


def load_alibaba(base: Path) -> Trace:
    a = pd.read_csv(base / "traces/alibaba2018/machine_usage_days_1_to_8_grouped_300_seconds.csv")
    y = a["cpu_util_percent"].to_numpy(dtype=float)
    ts = STEP * np.arange(y.size, dtype=float)
    n = y.size
    return Trace(
        "alibaba2018 (cluster CPU %)",
        ts,
        y,
        n - int(2 * DAY_S / STEP),
        n,
        "daily",
        "only 7.8 days: test last 2 days, fit the 5.8 before; no weekly reference possible",
    )


def evaluate(model: Forecaster, tr: Trace, scale: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    r = rolling_forecasts(model, tr.ts, tr.y, tr.test_start, tr.test_stop, max(HORIZONS.values()))
    out: dict[str, Any] = {"seconds": round(time.perf_counter() - t0, 1)}
    for label, h in HORIZONS.items():
        s, m = r.errors_at(h, scale)
        out[label] = {"smape": round(s, 3), "mase": round(m, 4), "coverage80": round(r.coverage_at(h), 3)}
    out["plausibility"] = r.guard_summary()
    return out


def candidates(quick: bool, lstm: bool = True) -> dict[str, Forecaster]:
    gbt_params: dict[str, Any] = {"max_iter": 40, "max_rows": 10_000} if quick else {}
    c: dict[str, Forecaster] = {
        "holt_winters": FORECASTERS.get("holt_winters")(),
        "gbt": FORECASTERS.get("gbt")(**gbt_params),
        "combination": Combination(
            members=("holt_winters", "gbt"), member_params={"gbt": gbt_params} if gbt_params else None
        ),
    }
    if not lstm:
        return c
    try:
        import torch  # noqa: F401

        c["lstm"] = FORECASTERS.get("lstm")()
    except ImportError:
        pass
    return c


def run_trace(tr: Trace, quick: bool, console: Console, lstm: bool = True) -> dict[str, Any]:
    fit_y = tr.y[: tr.test_start]
    scale = mase_scale(fit_y, int(DAY_S / STEP))
    rows: dict[str, Any] = {}
    baselines: dict[str, Forecaster] = {
        "naive (last value)": FORECASTERS.get("naive")(),
        "seasonal naive daily": SeasonalNaive(season_s=DAY_S),
        # the recursion before issue 18's robust updates, for comparison only (never a candidate)
        CLASSIC_HW: HoltWinters(robust=False),
    }
    if tr.reference == "weekly":
        baselines["seasonal naive weekly"] = SeasonalNaive(season_s=WEEK_S)
    ref_name = "seasonal naive weekly" if tr.reference == "weekly" else "seasonal naive daily"
    for name, model in baselines.items():
        rows[name] = evaluate(model, tr, scale)
    cands = candidates(quick, lstm)
    t0 = time.perf_counter()
    h60 = HORIZONS["60min"]
    best, scores = select_model(
        tr.ts[: tr.test_start], fit_y, cands, horizon=h60, folds=2, every=3 if quick else 1, score_at=(h60,)
    )
    sel_s = round(time.perf_counter() - t0, 1)
    console.log(f"{tr.name}: select_model chose {best} in {sel_s} s")
    for name, model in cands.items():
        rows[name] = evaluate(model, tr, scale)
    rows[f"auto -> {best}"] = rows[best]
    ref60 = rows[ref_name]["60min"]["mase"]
    auto60 = rows[best]["60min"]["mase"]
    reduction = 1.0 - auto60 / ref60
    _, ref_scores = select_model(
        tr.ts[: tr.test_start],
        fit_y,
        {ref_name: baselines[ref_name]},
        horizon=h60,
        folds=2,
        every=3 if quick else 1,
        score_at=(h60,),
    )
    cv_ref, cv_best = ref_scores[ref_name].mase, scores[best].mase
    return {
        "trace": tr.name,
        "note": tr.note,
        "generated": tr.name.endswith("(generated)"),
        "fit_points": int(tr.test_start),
        "test_points": int(tr.test_stop - tr.test_start),
        "mase_scale": {"period_steps": int(DAY_S / STEP), "value": scale},
        "reference": ref_name,
        "selected": best,
        "selection_seconds": sel_s,
        "selection_scores": {k: v.to_dict() for k, v in scores.items()},
        "models": rows,
        "cross_validated": {
            "what": "MASE@60 in the rolling-origin backtest on the fitting data (two one-day folds) that chose "
            "the model",
            "mase60_reference": cv_ref,
            "mase60_selected": cv_best,
            "reduction": round(1.0 - cv_best / cv_ref, 4),
        },
        "target": {
            "mase60_reference": ref60,
            "mase60_selected": auto60,
            "reduction": round(reduction, 4),
            "required": 0.25,
            "met": bool(reduction >= 0.25),
        },
        "plausibility": plausibility(rows, scores),
    }


def plausibility(rows: dict[str, Any], scores: dict[str, Any]) -> dict[str, Any]:
    """Per model and fold (the selection folds, then the test period): how far the model's own point forecasts
    left the history's range (in ranges, before the guard) and how often the guard replaced them."""
    per: dict[str, Any] = {}
    for name, row in rows.items():
        if name.startswith("auto"):
            continue
        folds = [
            {"fold": f"backtest {i + 1}", "max_range_excess": f["max_range_excess"], "guard_fired": f["guard_fired"]}
            for i, f in enumerate(scores[name].folds if name in scores else [])
        ]
        folds.append({"fold": "test", **row["plausibility"]})
        per[name] = folds
    shipped = {k: v for k, v in per.items() if k != CLASSIC_HW}
    worst = max(f["max_range_excess"] for fs in shipped.values() for f in fs)
    fired = sum(f["guard_fired"] for fs in shipped.values() for f in fs)
    return {
        "per_model": per,
        "max_range_excess": worst,
        "guard_fired": fired,
        "required": "no point forecast more than 10 ranges outside the history's range, before the guard "
        f"(every model but {CLASSIC_HW!r}, shown for comparison)",
        "met": bool(worst <= 10.0),
    }


def nasa_published_check(tr: Trace) -> dict[str, Any]:
    """Reproduce the published NASA figures (one-step naive and same-time-last-week on the test week)."""
    a = tr.y[tr.test_start : tr.test_stop]
    naive = tr.y[tr.test_start - 1 : tr.test_stop - 1]
    week = tr.y[tr.test_start - 2016 : tr.test_stop - 2016]
    from hx.forecast import mase, smape

    fit_y = tr.y[: tr.test_start]
    scale_all = mase_scale(fit_y, 288)
    post = tr.ts[: tr.test_start] >= pd.Timestamp("1995-08-04T00:00:00-04:00").timestamp()
    scale_aug = mase_scale(fit_y[post], 288)
    return {
        "published": PUBLISHED_NASA,
        "ours": {
            "naive_1step_smape": round(smape(a, naive), 2),
            "week_smape": round(smape(a, week), 2),
            "naive_1step_mase_scale_all_fit_data": round(mase(a, naive, scale_all), 3),
            "week_mase_scale_all_fit_data": round(mase(a, week, scale_all), 3),
            "naive_1step_mase_scale_aug4_21": round(mase(a, naive, scale_aug), 3),
            "week_mase_scale_aug4_21": round(mase(a, week, scale_aug), 3),
        },
        "note": "sMAPE matches exactly; the published MASE(m=288) is matched when the scale is taken on Aug 4-21 "
        "(after the outage). This benchmark scales by all fitting data (Jul 1-Aug 21, gaps skipped); ratios "
        "between models do not depend on the scale.",
    }


def table(results: list[dict[str, Any]]) -> Table:
    t = Table(title="Forecast accuracy on the test periods (sMAPE % / MASE, scale: daily seasonal naive in-sample)")
    t.add_column("trace")
    t.add_column("model")
    for label in HORIZONS:
        t.add_column(f"{label} sMAPE", justify="right")
        t.add_column(f"{label} MASE", justify="right")
    t.add_column("60min vs ref", justify="right")
    t.add_column("80% cover@60", justify="right")
    for res in results:
        ref = res["models"][res["reference"]]["60min"]["mase"]
        for name, row in res["models"].items():
            cells = []
            for label in HORIZONS:
                cells += [f"{row[label]['smape']:.1f}", f"{row[label]['mase']:.3f}"]
            delta = 1.0 - row["60min"]["mase"] / ref
            mark = " (ref)" if name == res["reference"] else ""
            style = (
                "bold green"
                if name.startswith("auto") and res["target"]["met"]
                else ("bold red" if name.startswith("auto") else None)
            )
            t.add_row(
                res["trace"], name + mark, *cells, f"{-delta:+.0%}", f"{row['60min']['coverage80']:.2f}", style=style
            )
        t.add_section()
    return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="lighter GBT and sparser selection (a smoke run)")
    ap.add_argument("--no-lstm", action="store_true", help="leave the LSTM out even when torch is installed")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "forecast.json"))
    ap.add_argument(
        "--trace", choices=["nasa", "alibaba", "azure", "nasa-dropout"], action="append", help="only these traces"
    )
    args = ap.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 170)
    base = data_dir()
    if not (base / "traces").is_dir():
        console.print(f"[red]no traces under {base}: set HX_DATA_DIR[/red]")
        return 2
    loaders = {"nasa": load_nasa, "alibaba": load_alibaba, "azure": load_azure, "nasa-dropout": load_nasa_dropout}
    traces = [load(base) for key, load in loaders.items() if not args.trace or key in args.trace]
    results = []
    t0 = time.perf_counter()
    for tr in traces:
        console.log(f"{tr.name}: {tr.test_start} fitting points, {tr.test_stop - tr.test_start} test points")
        results.append(run_trace(tr, args.quick, console, not args.no_lstm))
    console.print(table(results))
    nasa = [tr for tr in traces if tr.name.startswith("nasa-http")]
    check = nasa_published_check(nasa[0]) if nasa else None
    if check:
        ours, published = json.dumps(check["ours"]), json.dumps(check["published"])
        console.print(f"NASA published check: {ours}  (published {published})")
    for r in results:
        cv, tg, pl = r["cross_validated"], r["target"], r["plausibility"]
        console.print(
            f"{r['trace']}: backtest on the fitting data (cross-validated) {r['selected']} MASE@60 "
            f"{cv['mase60_selected']:.3f} vs {r['reference']} {cv['mase60_reference']:.3f} -> "
            f"{cv['reduction']:.1%} lower; "
            f"test period {tg['mase60_selected']:.3f} vs {tg['mase60_reference']:.3f} -> {tg['reduction']:.1%} lower "
            f"({'met' if tg['met'] else 'NOT met'}; need 25%); largest forecast outside the history's range "
            f"{pl['max_range_excess']:.2f} ranges (need <= 10: {'met' if pl['met'] else 'NOT met'}), "
            f"guard fired {pl['guard_fired']:.0f} times"
        )
    payload = {
        "benchmark": "forecast",
        "quick": args.quick,
        "traces_run": [tr.name for tr in traces],
        "horizons_steps": HORIZONS,
        "step_s": STEP,
        "seconds": round(time.perf_counter() - t0, 1),
        "lstm": "included"
        if any("lstm" in r["models"] for r in results)
        else ("left out (--no-lstm)" if args.no_lstm else "skipped: torch not installed"),
        "nasa_published_check": check,
        "traces": results,
        # a run on some of the traces cannot say that every target is met
        "all_targets_met": all(r["target"]["met"] for r in results if not r["generated"])
        if len(traces) == len(loaders)
        else None,
        "all_plausible": all(r["plausibility"]["met"] for r in results) if len(traces) == len(loaders) else None,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2))
    console.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

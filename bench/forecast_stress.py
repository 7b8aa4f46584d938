"""Forecast stress test: hx's forecasters and model choice on many real series they were never chosen on.

    python bench/forecast_stress.py [--quick] [--limit N] [--vms N] [--gbt-share F]

``bench/forecast.py`` judges the forecasters on three traces (and one generated from NASA); the models and
their defaults were chosen there.  This benchmark runs the same protocol, with the same helpers (imported
from ``bench/forecast.py`` and ``hx.forecast``), on series none of that work ever looked at, so its
figures are held-out ones.  Data (``$HX_DATA_DIR`` or ``../shared/data``):

- ``anomaly/aiops2018-kpi``: all 55 KPIs (41 at 1 min, 14 at 5 min).  The 1-minute KPIs are aggregated
  to 5-minute means (the mean of the minutes present; a bucket with no minute is a gap).
- ``anomaly/ms-cloud-monitoring``: all 60 series.  The 1-minute ones are aggregated to 5-minute means as
  above; the hourly ones stay hourly (duplicate timestamps: the first row is kept).
- ``traces/bitbrains-rnd-2013-7``: per-VM CPU usage (MHz) at 5 min, a seeded sample of ``--vms`` VMs
  (rows with zero provisioned capacity are gaps).

Protocol per series: the test period is the last 30 % of the series, at most 7 days; the fitting part is
the (at most ``--fit-days``) days before it.  ``select_model`` chooses among the candidates of
``bench/forecast.py`` (Holt-Winters, gradient boosting in its ``--quick`` configuration, their
combination; no LSTM) on the fitting part alone (two one-day folds, judged on MASE at 60 minutes), then
every candidate is fitted once on the fitting part and forecasts 60 minutes ahead from a few hundred
evenly spaced origins through the test period (``rolling_forecasts``: between origins the model only
sees the data through ``update``; no look-ahead).  The auto row is the chosen candidate's.

Recorded per series and model: the largest range excess of the raw point forecasts (how far they left the
history's range, in multiples of that range, before the plausibility guard: the definition of
``bench/forecast.py``), over the selection folds and the test period; how often the guard replaced a
forecast; non-finite values out of a model's own forecast hook (before the base class patches them);
MASE at 60 minutes (scaled by the in-sample MAE of the daily seasonal naive on the fitting part, as in
``bench/forecast.py``) next to the daily seasonal naive's; and any exception.  Gradient boosting costs far
more than the rest, so ``--gbt-share`` (seeded) decides on which series it and the combination are run;
elsewhere the candidates are Holt-Winters alone.

Writes bench/results/forecast_stress.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from forecast import CLASSIC_HW, candidates, data_dir  # noqa: E402
from hx.errors import BadInput  # noqa: E402
from hx.forecast import (  # noqa: E402
    FORECASTERS,
    Forecaster,
    HoltWinters,
    SeasonalNaive,
    mase_scale,
    regularize,
    rolling_forecasts,
    select_model,
)
from hx.forecast.base import DAY_S, PLAUSIBLE_RANGES, FloatArray  # noqa: E402

H60_S = 3600.0
TEST_SHARE, TEST_MAX_S = 0.3, 7 * DAY_S
#: the fitting part must leave select_model a day of data before its two one-day folds, and then some
MIN_FIT_S = 3.5 * DAY_S
REF = "seasonal naive daily"
AUTO = "auto (selected)"


@dataclass
class Series:
    corpus: str
    name: str
    ts: FloatArray
    y: FloatArray
    step: float
    note: str


# ---- loading ----------------------------------------------------------------------------------


def _to_grid(secs: FloatArray, vals: FloatArray, step: float) -> tuple[FloatArray, FloatArray]:
    """Means per ``step`` bucket (of the samples present), on a regular grid with NaN gaps."""
    s = pd.Series(vals).groupby(np.floor(secs / step) * step).mean()
    return regularize(s.index.to_numpy(dtype=float), s.to_numpy(dtype=float), step)


def load_aiops(base: Path) -> list[Series]:
    root = base / "anomaly/aiops2018-kpi"
    meta = pd.read_csv(root / "series.csv")
    out = []
    for row in meta.itertuples():
        df = pd.read_csv(root / str(row.file))
        ts, y = _to_grid(df["timestamp"].to_numpy(dtype=float), df["value"].to_numpy(dtype=float), 300.0)
        note = f"{row.round}, {int(row.step_s)} s" + (" -> 5-min means" if int(row.step_s) == 60 else "")
        out.append(Series("aiops2018-kpi", str(row.kpi_id), ts, y, 300.0, note))
    return out


def load_ms(base: Path) -> list[Series]:
    root = base / "anomaly/ms-cloud-monitoring"
    meta = pd.read_csv(root / "series.csv")
    out = []
    for row in meta.itertuples():
        df = pd.read_csv(root / str(row.file))
        t = pd.to_datetime(df["TimeStamp"], utc=True, format="mixed")
        df = df.assign(t=t).drop_duplicates("t", keep="first")
        secs = ((df["t"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds()).to_numpy(dtype=float)
        vals = pd.to_numeric(df["Value"], errors="coerce").to_numpy(dtype=float)
        step = 300.0 if int(row.step_s) == 60 else float(row.step_s)
        ts, y = _to_grid(secs, vals, step)
        note = f"{row.domain}, {int(row.step_s)} s" + (" -> 5-min means" if int(row.step_s) == 60 else "")
        out.append(Series("ms-cloud-monitoring", Path(str(row.file)).stem, ts, y, step, note))
    return out


def load_bitbrains(base: Path, n: int, seed: int) -> list[Series]:
    root = base / "traces/bitbrains-rnd-2013-7"
    files = sorted(root.glob("*.csv.gz"), key=lambda p: int(p.name.split(".")[0]))
    rng = np.random.default_rng(seed)
    out: list[Series] = []
    for i in rng.permutation(len(files)):
        if len(out) >= n:
            break
        df = pd.read_csv(files[i], sep=";", skipinitialspace=True)
        df.columns = [c.strip() for c in df.columns]
        cap = df["CPU capacity provisioned [MHZ]"].to_numpy(dtype=float)
        cpu = np.where(cap > 0, df["CPU usage [MHZ]"].to_numpy(dtype=float), np.nan)
        if np.sum(np.isfinite(cpu)) * 300.0 < 10 * DAY_S:
            continue  # a short or capacity-less VM: not enough to fit and test on
        ts, y = _to_grid(df["Timestamp [ms]"].to_numpy(dtype=float), cpu, 300.0)
        out.append(Series("bitbrains-rnd", f"vm {files[i].name.split('.')[0]}", ts, y, 300.0, "CPU usage MHz"))
    return out


# ---- instrumentation: non-finite values straight out of a model's hook ----------------------------

NONFINITE: Counter[str] = Counter()


@contextmanager
def count_nonfinite() -> Iterator[None]:
    """Wrap every registered forecaster's ``_forecast`` hook to count forecasts with a NaN or inf in them
    (the public ``forecast`` replaces those, so they would go unseen)."""
    saved: dict[type[Forecaster], Callable[..., Any]] = {}
    for name in FORECASTERS.names():
        cls = FORECASTERS.get(name)
        if "_forecast" not in cls.__dict__:
            continue
        orig = cls.__dict__["_forecast"]
        saved[cls] = orig

        def hooked(self: Forecaster, h: int, _orig: Callable[..., Any] = orig) -> Any:
            res = _orig(self, h)
            if not all(np.all(np.isfinite(a)) for a in res):
                NONFINITE[self.name] += 1
            return res

        cls._forecast = hooked  # type: ignore[method-assign]
    try:
        yield
    finally:
        for cls, orig in saved.items():
            cls._forecast = orig  # type: ignore[method-assign]


# ---- one series --------------------------------------------------------------------------------


def split(s: Series, fit_days: float) -> tuple[FloatArray, FloatArray, int, int] | str:
    """(ts, y, test_start, test_stop) with at most ``fit_days`` of fitting data, or why the series is skipped."""
    real = np.flatnonzero(np.isfinite(s.y))
    if real.size == 0:
        return "no values"
    ts, y = s.ts[real[0] : real[-1] + 1], s.y[real[0] : real[-1] + 1]
    n = y.size
    test_n = min(round(TEST_MAX_S / s.step), int(TEST_SHARE * n))
    start = n - test_n
    if start * s.step < MIN_FIT_S:
        return f"{n * s.step / DAY_S:.1f} days: too short to fit on {MIN_FIT_S / DAY_S} days and test after"
    lo = max(0, start - round(fit_days * DAY_S / s.step))
    return ts[lo:], y[lo:], start - lo, n - lo


def evaluate(
    model: Forecaster, ts: FloatArray, y: FloatArray, start: int, stop: int, h: int, every: int, scale: float
) -> dict[str, Any]:
    before = Counter(NONFINITE)
    t0 = time.perf_counter()
    try:
        r = rolling_forecasts(model, ts, y, start, stop, h, every)
    except Exception as err:  # any crash is a finding: record it and go on
        return {"error": f"{type(err).__name__}: {err}", "trace": traceback.format_exc(limit=4)}
    out: dict[str, Any] = {"seconds": round(time.perf_counter() - t0, 2), "origins": int(r.origins.size)}
    out.update(r.guard_summary())
    _, m = r.errors_at(h, scale) if math.isfinite(scale) else (math.nan, math.nan)
    out["mase60"] = m
    out["nan_pred"] = int(np.isnan(r.pred).sum())
    out["nonfinite_hook"] = sum((Counter(NONFINITE) - before).values())
    return out


def run_series(s: Series, args: argparse.Namespace, with_gbt: bool) -> dict[str, Any]:
    res: dict[str, Any] = {"corpus": s.corpus, "series": s.name, "note": s.note, "step_s": s.step}
    sp = split(s, args.fit_days)
    if isinstance(sp, str):
        return {**res, "skipped": sp}
    ts, y, start, stop = sp
    h = max(1, round(H60_S / s.step))
    every = max(1, (stop - start) // args.origins)
    sel_every = max(1, round(DAY_S / s.step) // max(1, args.origins // 3))
    res.update(fit_points=start, test_points=stop - start, every=every, horizon_steps=h, gbt=with_gbt)
    try:
        scale = mase_scale(y[:start], round(DAY_S / s.step))
    except BadInput as err:
        scale, res["mase_scale_error"] = math.nan, str(err)
    cands = candidates(quick=True, lstm=False)
    if not with_gbt:
        cands = {"holt_winters": cands["holt_winters"]}
    t0 = time.perf_counter()
    try:
        best, scores = select_model(ts[:start], y[:start], cands, horizon=h, folds=2, every=sel_every, score_at=(h,))
        res["selected"] = best
        res["selection"] = {k: v.to_dict() for k, v in scores.items()}
    except Exception as err:
        res["selected"], res["selection_error"] = None, f"{type(err).__name__}: {err}"
        scores = {}
    res["selection_seconds"] = round(time.perf_counter() - t0, 2)
    models: dict[str, Any] = {REF: evaluate(SeasonalNaive(season_s=DAY_S), ts, y, start, stop, h, every, scale)}
    if args.classic:
        models[CLASSIC_HW] = evaluate(HoltWinters(robust=False), ts, y, start, stop, h, every, scale)
    for name, model in cands.items():
        row = evaluate(model, ts, y, start, stop, h, every, scale)
        sel = scores.get(name)
        folds = sel.folds if sel is not None else []
        row["backtest_max_range_excess"] = max((f["max_range_excess"] for f in folds), default=0.0)
        row["backtest_guard_fired"] = sum(f["guard_fired"] for f in folds)
        if sel is not None and sel.error:
            row["backtest_error"] = sel.error
        models[name] = row
    res["models"] = models
    return res


# ---- summary -------------------------------------------------------------------------------------


def worst_excess(row: dict[str, Any]) -> float:
    return max(float(row.get("max_range_excess", 0.0)), float(row.get("backtest_max_range_excess", 0.0)))


def _finite_pos(a: Any, b: Any) -> bool:
    return a is not None and b is not None and math.isfinite(a) and math.isfinite(b) and b > 0


def summarize(results: list[dict[str, Any]], model_names: list[str]) -> dict[str, Any]:
    ran = [r for r in results if "models" in r]
    per_model: dict[str, Any] = {}
    for name in [*model_names, AUTO]:
        pairs = [(r["models"].get(r.get("selected") if name == AUTO else name), r["models"][REF]) for r in ran]
        pairs = [(x, ref) for x, ref in pairs if x is not None]
        rows = [x for x, _ in pairs]
        if not rows:
            continue
        ex = [worst_excess(x) for x in rows if "error" not in x]
        rat = [x["mase60"] / ref["mase60"] for x, ref in pairs if _finite_pos(x.get("mase60"), ref.get("mase60"))]
        per_model[name] = {
            "series": len(rows),
            "worst_range_excess": max(ex, default=0.0),
            "series_over_10x": sum(e > PLAUSIBLE_RANGES for e in ex),
            "guard_fired": int(sum(x.get("guard_fired", 0) + x.get("backtest_guard_fired", 0) for x in rows)),
            "series_guard_fired": sum(x.get("guard_fired", 0) + x.get("backtest_guard_fired", 0) > 0 for x in rows),
            "errors": sum("error" in x or "backtest_error" in x for x in rows),
            "nonfinite": int(sum(x.get("nonfinite_hook", 0) + x.get("nan_pred", 0) for x in rows)),
            "median_mase60_ratio_vs_seasonal_naive": float(np.median(rat)) if rat else math.nan,
        }
    ratios, beats = [], []
    for r in ran:
        best = r.get("selected")
        auto, ref = (r["models"].get(best, {}), r["models"][REF]) if best else ({}, {})
        a, b = auto.get("mase60", math.nan), ref.get("mase60", math.nan)
        if math.isfinite(a) and math.isfinite(b) and b > 0:
            ratios.append(a / b)
            beats.append(a < b)
    return {
        "series": len(results),
        "ran": len(ran),
        "skipped": {r["series"]: r["skipped"] for r in results if "skipped" in r},
        "selection_errors": {r["series"]: r["selection_error"] for r in ran if r.get("selection_error")},
        "chosen": dict(Counter(str(r.get("selected")) for r in ran)),
        "per_model": per_model,
        "auto_scored_series": len(ratios),
        "auto_beats_seasonal_naive_share": float(np.mean(beats)) if beats else math.nan,
        "median_mase60_ratio_auto_vs_seasonal_naive": float(np.median(ratios)) if ratios else math.nan,
        "worst_range_excess_shipped": max(
            (v["worst_range_excess"] for k, v in per_model.items() if k not in (REF, CLASSIC_HW, AUTO)), default=0.0
        ),
    }


def table(summary: dict[str, dict[str, Any]], names: list[str]) -> Table:
    t = Table(title="HELD-OUT forecast stress (no series here chose anything): range excess before the guard, MASE@60")
    cols = ("corpus", "series run", "model (series)", "worst excess", "> 10x", "guard fired (series)", "errors", "NaN")
    for col in (*cols, "median MASE@60 / SN", "auto beats SN@60"):
        t.add_column(col, justify="left" if col in ("corpus", "model (series)") else "right")
    for corpus, sm in summary.items():
        first = True
        for name in names:
            pm = sm["per_model"].get(name)
            if pm is None:
                continue
            bad = pm["series_over_10x"] or pm["errors"] or pm["nonfinite"]
            t.add_row(
                corpus if first else "",
                f"{sm['ran']}/{sm['series']}" if first else "",
                f"{name} ({pm['series']})",
                f"{pm['worst_range_excess']:.2f}",
                str(pm["series_over_10x"]),
                f"{pm['guard_fired']} ({pm['series_guard_fired']})",
                str(pm["errors"]),
                str(pm["nonfinite"]),
                f"{pm['median_mase60_ratio_vs_seasonal_naive']:.3f}",
                f"{sm['auto_beats_seasonal_naive_share']:.0%} of {sm['auto_scored_series']}" if name == AUTO else "",
                style="bold red" if bad else ("bold" if name == AUTO else None),
            )
            first = False
        t.add_section()
    return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run: 5 series per corpus, 60 origins, no gbt")
    ap.add_argument("--limit", type=int, default=0, help="at most this many series per corpus (0: all)")
    ap.add_argument("--vms", type=int, default=30, help="Bitbrains VMs to sample (seeded; 0 leaves Bitbrains out)")
    ap.add_argument("--origins", type=int, default=300, help="forecast origins per series in the test period")
    ap.add_argument("--fit-days", type=float, default=28.0, help="at most this many days of fitting data")
    ap.add_argument("--gbt-share", type=float, default=1.0, help="share of series (seeded) with gbt and combination")
    ap.add_argument("--classic", action="store_true", help="also run the classic (non-robust) Holt-Winters")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--only", action="append", help="only series whose name contains this (repeatable)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "forecast_stress.json"))
    args = ap.parse_args(argv)
    if args.quick:
        args.limit, args.origins, args.gbt_share = args.limit or 5, min(args.origins, 60), 0.0
    console = Console(width=None if sys.stdout.isatty() else 170)
    base = data_dir()
    if not (base / "anomaly").is_dir():
        console.print(f"[red]no data under {base}: set HX_DATA_DIR[/red]")
        return 2
    t0 = time.perf_counter()
    series = load_aiops(base) + load_ms(base) + (load_bitbrains(base, args.vms, args.seed) if args.vms else [])
    if args.only:
        series = [s for s in series if any(o in s.name for o in args.only)]
    if args.limit:
        kept: Counter[str] = Counter()
        series = [s for s in series if (kept.update([s.corpus]) or kept[s.corpus] <= args.limit)]
    console.log(f"loaded {len(series)} series in {time.perf_counter() - t0:.0f} s")
    rng = np.random.default_rng(args.seed)
    gbt_on = rng.random(len(series)) < args.gbt_share
    results: list[dict[str, Any]] = []
    cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with count_nonfinite(), Progress(*cols, TextColumn("{task.fields[now]}"), console=console) as progress:
        task = progress.add_task("series", total=len(series), now="")
        for s, g in zip(series, gbt_on, strict=True):
            progress.update(task, now=f"{s.corpus} {s.name}{' +gbt' if g else ''}")
            ts0 = time.perf_counter()
            r = run_series(s, args, bool(g))
            r["seconds"] = round(time.perf_counter() - ts0, 1)
            results.append(r)
            for name, row in r.get("models", {}).items():
                if "error" in row or worst_excess(row) > PLAUSIBLE_RANGES or row.get("nonfinite_hook"):
                    msg = row.get("error") or f"excess {worst_excess(row):.1f}, non-finite {row.get('nonfinite_hook')}"
                    progress.console.log(f"[red]{s.corpus} {s.name} {name}: {msg}[/red]")
            progress.advance(task)
    names = [REF, CLASSIC_HW, "holt_winters", "gbt", "combination", AUTO]
    corpora = list(dict.fromkeys(s.corpus for s in series))
    summary = {c: summarize([r for r in results if r["corpus"] == c], names[:-1]) for c in corpora}
    summary["all"] = summarize(results, names[:-1])
    console.print(table(summary, names))
    for name, why in summary["all"]["selection_errors"].items():  # a series the choice refused: say which and why
        console.print(f"[yellow]{name}: no model chosen: {why}[/yellow]")
    payload = {
        "benchmark": "forecast_stress",
        "held_out": "none of these series was used to choose a model, a default or a threshold",
        "args": {k: v for k, v in vars(args).items() if k != "out"},
        "seconds": round(time.perf_counter() - t0, 1),
        "horizon_s": H60_S,
        "plausible_ranges": PLAUSIBLE_RANGES,
        "summary": summary,
        "series": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=1, default=float))
    console.print(f"wrote {out} in {payload['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

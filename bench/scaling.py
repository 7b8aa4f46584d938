"""Scaling benchmark: HPA vs the predictive scaler vs static peak provisioning on three public traces.

    python bench/scaling.py [--quick]

Data: ``$HX_DATA_DIR`` or ``../shared/data`` (relative to the project root), ``traces/``: NASA HTTP 1995
(requests per minute), Azure VM v2 (fleet CPU, 5-minute rows, 30 days), Alibaba 2018 (cluster CPU,
5-minute rows, 7.8 days).  Each trace is scaled to one service's request rate (its 99.5th percentile =
1,000 req/s; 50 req/s per replica; replica start-up 2 minutes) and replayed through the simulated
fleet (``hx.sim.Simulation``, 60-second steps, Poisson request counts, linear between a trace's rows)
-- so every figure here is from *simulated* service behaviour driven by real traffic shapes.

Resolution: every trace is replayed from 5-minute rows -- Alibaba and Azure come so; NASA's
per-minute counts are averaged over 5 minutes (``nasa``).  The NASA log averages 0.7 requests a
second; scaling it 400-fold to a 1,000 req/s service multiplies its per-minute sampling noise with
it (the scaled demand swings about +-40 % minute to minute, where a service really serving that
many of NASA's users would swing about 1 %: independent users add up).  5-minute means keep the
traffic's shape with a fifth of that noise variance.  The per-minute replay is kept as a stress
case (``nasa-1min``), reported beside the others and judged by the same target.

Replayed (test) period: the last 7 days of NASA (Aug 25-31 1995) and Azure; the last 2 days of Alibaba
(it has 7.8 days: a week of test would leave too little to learn from).  Everything before is history
the predictive scaler is fitted on; during the replay it sees each 5-minute bucket only once it is
over (no look-ahead).  ``--quick``: the last day of each trace.

Policies: ``hpa`` -- the Kubernetes HPA reference (70 % target, 10 % tolerance, 15 s loop, no scale-up
stabilisation, 300 s scale-down window, scale-up limit max(+4 pods, +100 %) per 15 s); ``predictive``
-- hx's predictive scaler in its calibrated mode (Holt-Winters forecast over 1 h; the demand bound one
start-up time ahead is the sharpest short-term predictor, the forecast among them, plus the conformal
``1 - alpha`` quantile of its own errors over the last day, provisioned at 80 % utilisation; reactive
floor at 80 % of the last 2 minutes' demand; scale-in after one start-up time; started a day before
the replayed days, which alone are counted), ``alpha`` chosen per trace on the development period
(the same number of days just before the test period, fitted only on what precedes it: see
``hx.scale.alpha.choose_alpha``); ``predictive-auto`` -- the same calibrated mode with ``alpha`` chosen by
the engine's own rule (``hx.scale.alpha.auto_alpha``: what-ifs of the engine's scaler and of HPA over the
last 7 days of history before the replayed days -- fewer when there are fewer -- no simulator), so the
alpha for the replayed days comes only from days before them, as it would in production; the target is
judged on this row; ``predictive-default`` -- the engine's documented defaults (90 %
quantile + 20 % ``scaling_buffer``, reactive floor at 70 %, 10-minute scale-in stabilisation; warmed
up alike), for comparison; ``static`` -- the replicas the history's peak needs at 70 %, fixed.
Metrics: SLO-violation minutes (p99 latency over the SLO or errors over 1 %, saturation drops count
as errors), replica-hours, scaling actions.

What-if validation (``whatif_validation`` in the JSON; ``--no-validate`` skips it): on each development
period, the alphas the simulator tuning replayed are also run as what-ifs; the Spearman correlations of the
two rankings, the alpha each would choose, and the churn of a few scale-in variants (actions against
replica-hours).

Target: on every trace, predictive-auto has at least 50 % fewer SLO-violation minutes than HPA and no more
replica-hours.  Writes bench/results/scaling.json and bench/results/scaling.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from hx.lab.scaling_plot import plot_scaling
from hx.lab.scaling_replay import (
    DEFAULT_TEST_DAYS,
    GRID_S,
    POLICIES,
    ReplayResult,
    ReplayTrace,
    Tuning,
    auto_choice,
    calibrated_config,
    development_split,
    grid_history,
    prepare_trace,
    replay,
    tune_predictive,
    usable_warmup,
)
from hx.scale.alpha import (
    ALPHAS,
    AlphaChoice,
    choose_alpha,
    demand_for,
    forecasts_for,
    whatif_calibrated,
    whatif_hpa,
)
from hx.scale.scaler import DEFAULT_ALPHA, ServiceProfile

ROOT = Path(__file__).resolve().parents[1]
#: label -> (trace, replay resolution in seconds; None: the trace's own rows)
TRACES: dict[str, tuple[str, float | None]] = {
    "nasa": ("nasa", 300.0),
    "alibaba": ("alibaba", None),
    "azure": ("azure", None),
    "nasa-1min": ("nasa", None),
}
#: replays reported beside the target's traces but not part of its verdict
STRESS = ("nasa-1min",)
#: the row whose alpha the engine's own rule chose (what-ifs over the history before the replayed days)
AUTO = "predictive-auto"
#: scale-in variants measured (what-if, development period) for churn: actions against replica-hours
CHURN_VARIANTS: dict[str, dict[str, Any]] = {
    "scale-in after 2 min (bench)": {},
    "+ margin 1 replica": {"scale_in_margin": 1},
    "scale-in after 5 min": {"scale_in_window_s": 300.0},
    "scale-in after 10 min": {"scale_in_window_s": 600.0},
}
CAP, STARTUP, PEAK = 50.0, 120.0, 1000.0


def data_dir() -> Path:
    return Path(os.environ.get("HX_DATA_DIR") or ROOT.parent / "shared" / "data")


def run_trace(
    tr: ReplayTrace, policies: tuple[str, ...] = POLICIES, seed: int = 1
) -> tuple[dict[str, ReplayResult], Tuning, AlphaChoice]:
    """The bench's core: tune the predictive policy on the development split (simulator replays), let the
    engine's own rule choose alpha from the history before the test period (what-ifs, no simulator), then
    replay the test period under each policy (same seed, same start) and under the engine's defaults."""
    tuning = tune_predictive(tr, cap=CAP, startup_s=STARTUP, seed=seed)
    choice, auto_cfg = auto_choice(tr, cap=CAP, startup_s=STARTUP)
    warm = usable_warmup(tr)
    out = {}
    for p in policies:
        cfg, w = (tuning.config, warm) if p == "predictive" else (None, 0.0)
        out[p] = replay(tr, p, cap=CAP, startup_s=STARTUP, seed=seed, config=cfg, warmup_s=w)
    if choice.alpha == tuning.alpha and "predictive" in out:  # the same settings: the same (seeded) replay
        out[AUTO] = replace(out["predictive"], policy=AUTO, meta=dict(out["predictive"].meta))
    else:
        out[AUTO] = replay(tr, "predictive", cap=CAP, startup_s=STARTUP, seed=seed, config=auto_cfg, warmup_s=warm)
    out[AUTO].policy = AUTO
    out[AUTO].meta["alpha"] = choice.alpha
    if "predictive" in out:
        out["predictive"].meta["alpha"] = tuning.alpha
    out["predictive-default"] = replay(tr, "predictive", cap=CAP, startup_s=STARTUP, seed=seed, warmup_s=warm)
    out["predictive-default"].policy = "predictive-default"
    return out, tuning, choice


def validate_whatif(tr: ReplayTrace, tuning: Tuning) -> dict[str, Any]:
    """The what-if (no simulator) against the simulator on the development period: the alphas the tuning
    replayed, each also as a what-if over the same days (same history, same warm-up); Spearman rank
    correlations of the two, and the alpha each would choose by the rule."""
    dev = development_split(tr)
    t, v = grid_history(*tr.train, tr.step_s)
    minute = tr.train if tr.step_s < GRID_S else None  # a per-minute trace: its rows, as the engine's what-if
    d = demand_for(t, v, GRID_S, (dev.test_end - dev.test_start) / 86400.0, usable_warmup(dev), minute)
    prof = ServiceProfile(CAP, STARTUP, origin="replay")
    base = calibrated_config(DEFAULT_ALPHA)
    fcs = forecasts_for(d, prof, base)
    hpa = whatif_hpa(d, prof).outcome
    seen: dict[float, tuple[float, float]] = {}

    def evaluate(a: float) -> tuple[float, float]:
        if a not in seen:
            seen[a] = whatif_calibrated(d, prof, a, base, forecasts=fcs).outcome
        return seen[a]

    whatif_alpha = choose_alpha(ALPHAS, evaluate, hpa)
    churn = {}
    for label, kw in CHURN_VARIANTS.items():
        w = whatif_calibrated(d, prof, whatif_alpha, replace(base, **kw), forecasts=fcs)
        churn[label] = {"slo_violation_minutes": w.slo_violation_minutes, "replica_hours": round(w.replica_hours, 1),
                        "actions": w.actions}  # fmt: skip
    alphas = sorted(tuning.tried)
    sim = [tuning.tried[a] for a in alphas]
    wi = [evaluate(a) for a in alphas]
    return {
        "alphas": alphas,
        "simulator": [list(x) for x in sim],
        "whatif": [[x[0], round(x[1], 1)] for x in wi],
        "hpa": {"simulator": list(tuning.hpa), "whatif": [hpa[0], round(hpa[1], 1)]},
        "spearman_slo_minutes": _spearman([x[0] for x in sim], [x[0] for x in wi]),
        "spearman_replica_hours": _spearman([x[1] for x in sim], [x[1] for x in wi]),
        "alpha_simulator_rule": tuning.alpha,
        "alpha_whatif_rule": whatif_alpha,
        "churn": {"alpha": whatif_alpha, "hpa_actions": whatif_hpa(d, prof).actions, **churn},
    }


def _spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None when either side is constant."""
    ra, rb = (np.argsort(np.argsort(x)).astype(float) for x in (a, b))
    for r, x in ((ra, a), (rb, b)):
        for val in set(x):
            idx = [i for i, y in enumerate(x) if y == val]
            r[idx] = float(np.mean(r[idx]))
    if len(a) < 3 or np.std(ra) == 0 or np.std(rb) == 0:
        return None
    return round(float(np.corrcoef(ra, rb)[0, 1]), 3)


def verdict(results: dict[str, ReplayResult], policy: str = "predictive") -> dict[str, Any]:
    """``policy`` vs HPA: the relative change of SLO-violation minutes and of replica-hours, and the target."""
    h, p = results["hpa"], results[policy]
    slo_cut = None if h.slo_violation_minutes == 0 else 1.0 - p.slo_violation_minutes / h.slo_violation_minutes
    slo_ok = (
        p.slo_violation_minutes == 0
        if h.slo_violation_minutes == 0
        else p.slo_violation_minutes <= 0.5 * h.slo_violation_minutes
    )
    return {
        "slo_minutes_cut": None if slo_cut is None else round(slo_cut, 3),
        "replica_hours_ratio": round(p.replica_hours / h.replica_hours, 3) if h.replica_hours else None,
        "slo_target_met": bool(slo_ok),
        "cost_target_met": bool(p.replica_hours <= h.replica_hours),
        "target_met": bool(slo_ok and p.replica_hours <= h.replica_hours),
    }


def plot(path: Path, per_trace: dict[str, dict[str, ReplayResult]], note: str = "") -> Path:
    """One day (the busiest of the replay, by demand) of the first trace: demand, forecast band, replicas."""
    name, res = next(iter(per_trace.items()))
    pr = res["predictive"]
    t = pr.times
    day = 1440
    start = 0
    if t.size > day:
        sums = np.convolve(np.nan_to_num(pr.demand), np.ones(day), mode="valid")[::60]
        start = int(np.argmax(sums)) * 60
    sl = slice(start, min(start + day, t.size))
    band = tuple(b[sl] for b in pr.band) if pr.band is not None else None
    reps = {p: r.replicas[sl] for p, r in res.items() if p != "predictive-default"}
    title = f"{name} (simulated service{note}): demand, forecast band (p10-p90, 2 min ahead), replicas"
    prov = pr.provisioned[sl] if pr.provisioned is not None else None
    return plot_scaling(path, t[sl], pr.demand[sl], band, reps, capacity_rps=CAP, title=title, provisioned=prov)


def table(rows: list[dict[str, Any]], verdicts: dict[str, dict[str, Any]], quick: bool) -> Table:
    t = Table(title=f"scaling replay ({'quick: last day' if quick else 'last week; Alibaba last 2 days'}; simulated)")
    for col in ("trace", "policy", "SLO-viol. min", "replica-h", "actions", "vs HPA"):
        t.add_column(col, justify="left" if col in ("trace", "policy", "vs HPA") else "right")
    for r in rows:
        note = ""
        if r["policy"] in ("predictive", AUTO):
            v = verdicts[r["trace"]][r["policy"]]
            cut = "n/a (HPA 0)" if v["slo_minutes_cut"] is None else f"{v['slo_minutes_cut']:.0%} fewer"
            ok = "[green]met[/green]" if v["target_met"] else "[red]missed[/red]"
            note = f"SLO min {cut}, replica-h x{v['replica_hours_ratio']}: {ok}"
        alpha = f" ({r['alpha']:g})" if "alpha" in r else ""
        t.add_row(r["trace"], r["policy"] + alpha, f"{r['slo_violation_minutes']:.0f}", f"{r['replica_hours']:.1f}",
                  str(r["actions"]), note)  # fmt: skip
    t.caption = (
        f"reference target ({AUTO}: alpha by the engine's rule from the days before): >= 50 % fewer SLO-violation "
        f"minutes than HPA, replica-hours <= HPA, on every trace; {', '.join(STRESS)}: a stress replay, judged alike "
        "but outside the verdict"
    )
    return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="replay the last day of each trace only")
    ap.add_argument("--traces", default=",".join(TRACES), help=f"comma-separated, of {', '.join(TRACES)}")
    ap.add_argument(
        "--no-validate",
        dest="validate",
        action="store_false",
        help="skip the what-if vs simulator comparison on the development periods",
    )
    args = ap.parse_args(argv)
    console = Console(width=140)
    out_dir = ROOT / "bench" / "results"
    rows: list[dict[str, Any]] = []
    per_trace: dict[str, dict[str, ReplayResult]] = {}
    verdicts: dict[str, dict[str, Any]] = {}
    splits: dict[str, Any] = {}
    tunings: dict[str, Any] = {}
    validation: dict[str, Any] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    for name in args.traces.split(","):
        if name not in TRACES:
            ap.error(f"--traces: unknown trace {name!r}; choose from {', '.join(TRACES)}")
        trace, resolution = TRACES[name]
        days = 1.0 if args.quick else DEFAULT_TEST_DAYS[trace]
        tr = prepare_trace(trace, test_days=days, peak_rps=PEAK, data_dir=data_dir(), resolution_s=resolution)
        tr = replace(tr, name=name)
        splits[name] = {**tr.describe(), "resolution_s": resolution or tr.step_s}
        console.print(f"[bold]{name}[/bold]: history {splits[name]['history_days']} days, replaying "
                      f"{splits[name]['replayed'][0]} .. {splits[name]['replayed'][1]}")  # fmt: skip
        res, tuning, choice = run_trace(tr)
        tunings[name] = {**tuning.to_dict(), "auto": choice.to_dict()}
        dev = tunings[name]["development"]["replayed"]
        console.print(f"  alpha {tuning.alpha:g} chosen on {dev[0]} .. {dev[1]} ({len(tuning.tried)} replays)")
        console.print(f"  alpha auto: {choice.reason}")
        if args.validate:
            validation[name] = validate_whatif(tr, tuning)
            console.print(f"  what-if vs simulator: {validation[name]}")
        per_trace[name] = res
        verdicts[name] = {p: verdict(res, p) for p in ("predictive", AUTO)}
        rows += [r.summary() for r in res.values()]
    console.print(table(rows, verdicts, args.quick))
    res_s = splits[next(iter(per_trace))]["resolution_s"]
    png = plot(out_dir / "scaling.png", per_trace, f", {res_s / 60:g}-minute rows")
    result = {
        "benchmark": "scaling",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, python {sys.version.split()[0]} (shared, loaded)",
        "wall_s": round(time.perf_counter() - t0, 1),
        "cpu_s": round(time.process_time() - c0, 1),
        "parameters": {"quick": args.quick, "capacity_rps": CAP, "startup_s": STARTUP, "peak_rps": PEAK,
                       "sim_step_s": 60.0, "hpa": {"target": 0.7, "tolerance": 0.1, "sync_s": 15,
                       "scale_down_window_s": 300, "scale_up_limit": "max(+4, +100%) per 15 s"},
                       "predictive": "calibrated mode (conformal bound 2 min ahead at 80 %, floor 80 %, scale-in "
                       "after 2 min), holt_winters over 1 h, refit daily; alpha per trace from its development "
                       "period (see tuning); the configured scaling_buffer 0.2 is replaced by the calibrated "
                       "interval, because buffer 0.2 + floor 70 % cost more replica-hours than HPA on every "
                       "development period",
                       "predictive-default": "engine defaults: holt_winters, 1 h, q0.9 + 20 % scaling_buffer, "
                       "floor 70 %, 10-minute scale-in stabilisation, refit daily"},
        "data": "simulated service (hx.sim) driven by real traces; see the module docstring",
        "splits": splits,
        "tuning": tunings,
        "rows": rows,
        "verdict": verdicts,
        "target": f"{AUTO} (alpha chosen by the engine's rule from the days before the replay) >= 50 % fewer "
        "SLO-violation minutes than HPA with replica-hours <= HPA, every trace",
        "target_met": all(v[AUTO]["target_met"] for k, v in verdicts.items() if k not in STRESS),
        "target_met_dev_tuned": all(v["predictive"]["target_met"] for k, v in verdicts.items() if k not in STRESS),
        "whatif_validation": validation,
        "target_traces": [k for k in verdicts if k not in STRESS],
        "stress": {k: verdicts[k] for k in verdicts if k in STRESS},
        "plot": str(png.relative_to(ROOT)),
    }  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "scaling.json").write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote bench/results/scaling.json and {result['plot']} in {result['wall_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

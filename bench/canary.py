"""Canary judge benchmark: false-positive rate and power of hx's judge against a Kayenta-style reference.

All data here are SIMULATED (no real traces): baseline/canary pairs from four noise models, with the canary's
mean raised by a known relative effect.  "Flagged" = the metric's verdict is fail (High in the bad direction,
which is "increase" for every metric here).  Both judges see exactly the same simulated pairs in every cell.

Reference (labelled KAYENTA-STYLE, written for this benchmark, not Netflix code): the classification rule of
Kayenta's MannWhitneyClassifier as configured by its NetflixACAJudge -- confidence level 0.98, tolerance 0.25,
effect-size thresholds (1.0, 1.0): a metric is High when the lower bound of the asymptotic Mann-Whitney
confidence interval of the canary-minus-baseline shift (continuity- and tie-corrected, as in R's wilcox.test) is
above 0.25 x |Hodges-Lehmann estimate| and mean(canary)/mean(baseline) >= 1; identical or all-tied data pass.
The interval's lower bound exceeds a threshold exactly when the standardized rank statistic at that threshold
exceeds the normal quantile, which is how it is computed here (vectorised).

On AR(1) the reference's raw power is inflated by its own false alarms, so its confidence level is also
calibrated by simulation (on the same null pairs) until its FPR equals ours at that n, and power is compared
at that equal FPR.

Reporting only (no target): the false-positive rate on identical AR(1) canaries at phi 0.3, 0.5, 0.9, 0.97 and
0.99 (the grid uses 0.7; metrics Prometheus derives over a rate window sit at 0.95-0.99 at a 15 s step), with and
without history, to show whether the judge's autocorrelation handling holds beyond the one value it is scored on;
and AR(1) after a history whose level drifts (why history comes in hourly blocks).

hx runs with its defaults, guards included (hx.deploy.judge_guards: fully separated windows whose medians differ
by more than +80% / -45% fail).  Reporting only (no target): short windows (5 and 10 points, no history) --
identical canaries (iid and AR(1) phi 0.7) and a +100% shift -- for a plain and a critical metric.

Run: .venv/bin/python bench/canary.py [--quick] [--reps N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from hx.deploy.analysis import hourly_blocks  # noqa: E402
from hx.deploy.judge import JudgeConfig, MetricConfig, judge  # noqa: E402
from hx.deploy.judge_sequential import SequentialJudge  # noqa: E402

Array = np.ndarray
NS = (10, 30, 60, 120)
CONT_EFFECTS = (0.0, 0.05, 0.10, 0.20, 0.30, 0.50)
COUNT_EFFECTS = (1.0, 1.5, 2.0, 3.0, 5.0)
MODELS = ("iid_normal", "lognormal", "ar1", "poisson")
MU, SD, LN_SIGMA, PHI, RATE = 100.0, 20.0, 0.5, 0.7, 0.5
KAYENTA_CONF, KAYENTA_TOL = 0.98, 0.25
#: Pre-canary baseline history offered to hx in the "with history" columns, as rollouts read it
#: (hx.deploy.analysis): HISTORY_HOURS hours at the rollouts' 15 s signal step, in hourly blocks.
STEP_S = 15.0
HISTORY_HOURS = 6
BLOCK = int(3600 / STEP_S)
HISTORY = HISTORY_HOURS * BLOCK
AR1_FACTOR = 4  # repetitions of AR(1) cells with an effect = this x --reps
SWEEP_PHIS = (
    0.3,
    0.5,
    0.9,
    0.97,
    0.99,
)  # reporting only: identical-canary FPR at other autocorrelations than the grid's 0.7


# ---- simulation ------------------------------------------------------------------------------------------------


def ar1_noise(rng: np.random.Generator, reps: int, n: int, phi: float = PHI) -> Array:
    """Stationary AR(1) noise with unit marginal variance, shape (reps, n)."""
    e = rng.standard_normal((reps, n))
    x = np.empty((reps, n))
    x[:, 0] = e[:, 0]
    s = np.sqrt(1.0 - phi**2)
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + s * e[:, t]
    return x


def simulate(model: str, n: int, effect: float, reps: int, rng: np.random.Generator) -> tuple[Array, Array]:
    """(baseline, canary), each (reps, n).  Continuous: canary mean x (1 + effect); counts: rate x effect."""
    if model == "poisson":
        return rng.poisson(RATE, (reps, n)).astype(float), rng.poisson(RATE * effect, (reps, n)).astype(float)
    if model == "iid_normal":
        nb, nc = rng.standard_normal((reps, n)), rng.standard_normal((reps, n))
        return MU + SD * nb, MU * (1 + effect) + SD * nc
    if model == "lognormal":
        nb, nc = rng.standard_normal((reps, n)), rng.standard_normal((reps, n))
        return MU * np.exp(LN_SIGMA * nb), MU * (1 + effect) * np.exp(LN_SIGMA * nc)
    if model == "ar1":
        return MU + SD * ar1_noise(rng, reps, n), MU * (1 + effect) + SD * ar1_noise(rng, reps, n)
    raise ValueError(model)


def simulate_ar1_with_history(n: int, effect: float, reps: int, rng: np.random.Generator) -> tuple[Array, ...]:
    """(history, baseline, canary): the baseline window continues a HISTORY-point pre-canary baseline series."""
    full = MU + SD * ar1_noise(rng, reps, HISTORY + n)
    return full[:, :HISTORY], full[:, HISTORY:], MU * (1 + effect) + SD * ar1_noise(rng, reps, n)


def simulate_history(model: str, reps: int, rng: np.random.Generator) -> Array:
    """HISTORY pre-canary baseline points of an iid model (independent of the cell's own draws)."""
    z = rng.standard_normal((reps, HISTORY))
    return MU + SD * z if model == "iid_normal" else MU * np.exp(LN_SIGMA * z)


def blocks(history: Array) -> list[Array]:
    """One rep's history in hourly blocks, as rollouts pass it (each block is demeaned on its own)."""
    return hourly_blocks(history, STEP_S)


def cell_rng(seed: int, *key: object) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(repr(key).encode())])


# ---- KAYENTA-STYLE REFERENCE -----------------------------------------------------------------------------------


def _tie_term(pooled: Array) -> float:
    _, counts = np.unique(pooled, return_counts=True)
    return float(np.sum(counts.astype(float) ** 3 - counts))


def kayenta_statistic(base: Array, canary: Array, tolerance: float = KAYENTA_TOL) -> Array:
    """Per pair, the standardized Mann-Whitney statistic at mu = tolerance x |HL|; High iff it exceeds z.

    Returns -inf where Kayenta passes regardless of the level (identical data, all tied, mean ratio < 1).
    """
    reps, n_y = base.shape
    n_x = canary.shape[1]
    m = n_x * n_y
    out = np.full(reps, -np.inf)
    for lo in range(0, reps, 200):
        x, y = canary[lo : lo + 200], base[lo : lo + 200]
        d = (x[:, :, None] - y[:, None, :]).reshape(len(x), m)
        thr = tolerance * np.abs(np.median(d, axis=1))
        w = (d > thr[:, None]).sum(axis=1) + 0.5 * (d == thr[:, None]).sum(axis=1)
        dz = w - m / 2.0
        for i in range(len(x)):
            j = lo + i
            if np.array_equal(np.sort(x[i]), np.sort(y[i])) or np.ptp(np.concatenate([x[i], y[i]])) == 0:
                continue
            my = y[i].mean()
            if my != 0 and x[i].mean() / my < 1.0:
                continue
            ties = _tie_term(np.concatenate([x[i] - thr[i], y[i]]))
            sigma = np.sqrt(m / 12.0 * ((n_x + n_y + 1) - ties / ((n_x + n_y) * (n_x + n_y - 1))))
            if sigma > 0:
                out[j] = (dz[i] - np.sign(dz[i]) * 0.5) / sigma
    return out


def _conf(z: float) -> float:
    """The two-sided confidence level whose normal quantile is ``z`` (0 when nothing is ever flagged)."""
    return float(1 - 2 * stats.norm.sf(z)) if np.isfinite(z) else 1.0


def kayenta_z(conf: float = KAYENTA_CONF) -> float:
    return float(stats.norm.ppf(1.0 - (1.0 - conf) / 2.0))


def calibrate(null_stat: Array, target_fpr: float) -> float:
    """Smallest threshold z with mean(null_stat > z) <= target_fpr."""
    s = np.sort(null_stat[np.isfinite(null_stat)])[::-1]
    k = int(np.floor(target_fpr * len(null_stat) + 1e-9))
    if k >= len(s):
        return -np.inf
    return float(s[k])


def oracle_z_flags(model: str, base: Array, canary: Array, alpha: float = 0.01) -> Array:
    """The exact one-sided z-test at ``alpha`` that knows the noise level (on logs for the lognormal model).

    Reporting only: on a null cell it measures the draw itself -- an exact ``alpha`` test flags ``alpha`` on
    average, so a null cell where it flags more than ``alpha`` is a draw with more extreme pairs than average --
    and on an effect cell it is the power ceiling for independent data whose noise level is known.
    """
    b, c, sd = (np.log(base), np.log(canary), LN_SIGMA) if model == "lognormal" else (base, canary, SD)
    z = (c.mean(1) - b.mean(1)) / (sd * np.sqrt(1.0 / b.shape[1] + 1.0 / c.shape[1]))
    return np.asarray(z > stats.norm.ppf(1.0 - alpha))


# ---- hx judge --------------------------------------------------------------------------------------------------


def hx_config(model: str) -> JudgeConfig:
    kind = "count" if model == "poisson" else "continuous"
    return JudgeConfig(metrics=[MetricConfig(name="m", kind=kind, direction="increase")])


def hx_flags(model: str, base: Array, canary: Array, history: Array | None = None) -> Array:
    cfg = hx_config(model)
    hist = [None] * len(base) if history is None else [{"m": blocks(h)} for h in history]
    return np.array(
        [
            judge({"m": b}, {"m": c}, cfg, history=h).metrics[0].status == "fail"
            for b, c, h in zip(base, canary, hist, strict=True)
        ]
    )


# ---- fixed-horizon grid ----------------------------------------------------------------------------------------


def run_grid(reps: int, seed: int, log: Callable[[str], None], null_factor: int = 10) -> list[dict[str, object]]:
    """The fixed-horizon grid; null cells get ``null_factor`` x the repetitions (FPR near 1% needs them)."""
    rows: list[dict[str, object]] = []
    z98 = kayenta_z()
    for model in MODELS:
        effects = COUNT_EFFECTS if model == "poisson" else CONT_EFFECTS
        for n in NS:
            t0 = time.time()
            cal_z = cal_h = None
            for eff in effects:
                rng = cell_rng(seed, model, n, eff)
                # null cells (FPR near 1% must be told from 1%) get null_factor x the repetitions; AR(1) cells
                # (power compared at equal FPR, often within a point or two of the reference) AR1_FACTOR x
                null = eff in (0.0, 1.0)
                cell_reps = reps * (null_factor if null else AR1_FACTOR if model == "ar1" else 1)
                if model == "ar1":
                    hist, base, can = simulate_ar1_with_history(n, eff, cell_reps, rng)
                else:
                    base, can = simulate(model, n, eff, cell_reps, rng)
                ours = hx_flags(model, base, can)
                kst = kayenta_statistic(base, can)
                row: dict[str, object] = {
                    "model": model,
                    "n": n,
                    "effect": eff,
                    "null": eff in (0.0, 1.0),
                    "reps": cell_reps,
                    "hx": float(ours.mean()),
                    "kayenta": float((kst > z98).mean()),
                }
                if model in ("iid_normal", "lognormal"):  # reporting: what a rollout, which has history, sees
                    row["oracle_z"] = float(oracle_z_flags(model, base, can).mean())
                    hist_iid = simulate_history(model, cell_reps, cell_rng(seed, model, n, eff, "history"))
                    row["hx_with_history"] = float(hx_flags(model, base, can, hist_iid).mean())
                if model == "ar1":
                    with_hist = hx_flags(model, base, can, hist)
                    if cal_z is None or cal_h is None:  # the first effect is the null: calibrate on it
                        cal_z = calibrate(kst, float(ours.mean()))
                        cal_h = calibrate(kst, float(with_hist.mean()))
                    row["kayenta_calibrated"] = float((kst > cal_z).mean())
                    row["kayenta_calibrated_conf"] = _conf(cal_z)
                    row["hx_with_history"] = float(with_hist.mean())
                    row["kayenta_calibrated_to_hx_with_history"] = float((kst > cal_h).mean())
                rows.append(row)
            log(f"{model:10s} n={n:<4d} {time.time() - t0:6.1f}s")
    return rows


def run_phi_sweep(reps: int, seed: int) -> list[dict[str, object]]:
    """Reporting only (no target): false-positive rate on identical AR(1) canaries at other ``phi`` than the grid's."""
    rows: list[dict[str, object]] = []
    z98 = kayenta_z()
    for phi in SWEEP_PHIS:
        for n in NS:
            rng = cell_rng(seed, "phi-sweep", phi, n)
            full = MU + SD * ar1_noise(rng, reps, HISTORY + n, phi)
            hist, base, can = full[:, :HISTORY], full[:, HISTORY:], MU + SD * ar1_noise(rng, reps, n, phi)
            rows.append(
                {
                    "phi": phi,
                    "n": n,
                    "reps": reps,
                    "hx": float(hx_flags("ar1", base, can).mean()),
                    "hx_with_history": float(hx_flags("ar1", base, can, hist).mean()),
                    "kayenta": float((kayenta_statistic(base, can) > z98).mean()),
                }
            )
    return rows


def run_drift(reps: int, seed: int, n: int = 60, effect: float = 0.2) -> list[dict[str, object]]:
    """Reporting only: AR(1) windows after a history whose level follows a daily swing (+-20% of the mean).

    Shows why rollouts pass the history in hourly blocks (each demeaned on its own): read as one series, the
    swing looks like strong autocorrelation and the judge loses power; per block it stays close to the
    drift-free figure.  The windows themselves (minutes long) are drift-free.
    """
    rows: list[dict[str, object]] = []
    t = np.arange(HISTORY) * STEP_S
    for eff in (0.0, effect):
        rng = cell_rng(seed, "drift", n, eff)
        phase = rng.uniform(0, 2 * np.pi, (reps, 1))
        hist, base, can = simulate_ar1_with_history(n, eff, reps, rng)
        swing = 0.2 * MU * np.sin(2 * np.pi * (t[None, :] - t[-1]) / 86400.0 + phase)
        hist = hist + swing - swing[:, -1:]  # the level at the end of the history is the windows' level
        cfg = hx_config("ar1")
        one = [
            judge({"m": b}, {"m": c}, cfg, history={"m": h}).status == "fail"
            for b, c, h in zip(base, can, hist, strict=True)
        ]
        rows.append(
            {
                "n": n,
                "effect": eff,
                "reps": reps,
                "hourly_blocks": float(hx_flags("ar1", base, can, hist).mean()),
                "one_series": float(np.mean(one)),
                "no_history": float(hx_flags("ar1", base, can).mean()),
            }
        )
    return rows


def run_short_windows(reps: int, seed: int) -> list[dict[str, object]]:
    """Reporting only: 5- and 10-point windows without history (the prior and the guards decide there)."""
    rows: list[dict[str, object]] = []
    plain = hx_config("iid_normal")
    critical = JudgeConfig(metrics=[MetricConfig(name="m", critical=True, tolerance=0.05)])
    for model in ("iid_normal", "ar1"):
        for n in (5, 10):
            for eff in (0.0, 1.0):
                base, can = simulate(model, n, eff, reps, cell_rng(seed, "short", model, n, eff))
                row: dict[str, object] = {"model": model, "n": n, "effect": eff, "reps": reps}
                for name, cfg in (("hx", plain), ("hx_critical", critical)):
                    flags = [judge({"m": b}, {"m": c}, cfg).status == "fail" for b, c in zip(base, can, strict=True)]
                    row[name] = float(np.mean(flags))
                row["kayenta"] = float((kayenta_statistic(base, can) > kayenta_z()).mean())
                rows.append(row)
    return rows


def target_summary(grid: list[dict[str, object]]) -> dict[str, object]:
    """The issue's targets for hx as rollouts run it (with history) and for the ad-hoc judge (no history).

    FPR <= 1% in every null cell; power >= the reference in every iid, lognormal and count cell; on AR(1), power
    at equal FPR against the calibrated reference, cell by cell (a 'tie' is within 0.5 points).
    """
    out: dict[str, object] = {}
    for mode, col, cal in (("rollout", "hx_with_history", "kayenta_calibrated_to_hx_with_history"),
                           ("ad_hoc", "hx", "kayenta_calibrated")):  # fmt: skip

        def val(r: dict[str, object], c: str = col) -> float:
            return float(r.get(c, r["hx"]))  # type: ignore[arg-type]  # counts: no history column

        nulls = [r for r in grid if r["null"]]
        worst = max(nulls, key=val)
        misses = [
            f"{r['model']} n={r['n']} effect {r['effect']}: {100 * val(r):.1f} < {100 * float(r['kayenta']):.1f}"  # type: ignore[arg-type]
            for r in grid
            if not r["null"] and r["model"] != "ar1" and val(r) < float(r["kayenta"])  # type: ignore[arg-type]
        ]
        ar1 = [r for r in grid if r["model"] == "ar1" and not r["null"]]
        diff = [100 * (val(r) - float(r[cal])) for r in ar1]  # type: ignore[arg-type]
        out[mode] = {
            "max_fpr": val(worst),
            "max_fpr_cell": f"{worst['model']} n={worst['n']}",
            "max_fpr_cell_oracle_z": worst.get("oracle_z"),
            "fpr_target_met": val(worst) <= 0.01,
            "power_misses_iid_lognormal_counts": misses,
            "ar1_equal_fpr_cells": {
                "higher": sum(d > 0.5 for d in diff),
                "tie_within_0.5": sum(abs(d) <= 0.5 for d in diff),
                "lower": sum(d < -0.5 for d in diff),
                "mean_difference_points": round(float(np.mean(diff)), 2),
                "lower_cells": [
                    f"n={r['n']} effect {r['effect']}: {100 * val(r):.1f} vs {100 * float(r[cal]):.1f}"  # type: ignore[arg-type]
                    for r, d in zip(ar1, diff, strict=True)
                    if d < -0.5
                ],
            },
        }
    return out


# ---- sequential ------------------------------------------------------------------------------------------------


def run_sequential(reps: int, seed: int, looks: int, chunk: int) -> list[dict[str, object]]:
    """FPR over K looks (ours vs naive repeated testing) and stopping look for bad canaries."""
    cases = [("iid_normal", e) for e in (0.0, 0.1, 0.2, 0.5)] + [("ar1", e) for e in (0.0, 0.2, 0.5)]
    cases += [("poisson", e) for e in (1.0, 3.0, 5.0)]
    rows: list[dict[str, object]] = []
    for model, eff in cases:
        cfg = hx_config(model)
        base, can = simulate(model, looks * chunk, eff, reps, cell_rng(seed, "seq", model, eff))
        stops: list[int] = []
        naive = 0
        fixed = 0
        for b, c in zip(base, can, strict=True):
            sj = SequentialJudge(cfg, looks=looks)
            stop = 0
            naive_hit = False
            for k in range(looks):
                sv = sj.update({"m": b[k * chunk : (k + 1) * chunk]}, {"m": c[k * chunk : (k + 1) * chunk]})
                if not naive_hit:
                    naive_hit = judge({"m": b[: (k + 1) * chunk]}, {"m": c[: (k + 1) * chunk]}, cfg).status == "fail"
                if sv.stop:
                    stop = k + 1
                    break
            naive += naive_hit
            fixed += judge({"m": b}, {"m": c}, cfg).status == "fail"
            stops.append(stop)
        st = np.array(stops)
        rows.append(
            {
                "model": model,
                "effect": eff,
                "null": eff in (0.0, 1.0),
                "looks": looks,
                "chunk": chunk,
                "reps": reps,
                "sequential_flag_rate": float((st > 0).mean()),
                "naive_repeated_flag_rate": naive / reps,
                "fixed_horizon_flag_rate": fixed / reps,
                "mean_stop_look": float(st[st > 0].mean()) if (st > 0).any() else None,
            }
        )
    return rows


# ---- report ----------------------------------------------------------------------------------------------------


def _pct(x: object) -> str:
    return "-" if x is None else f"{100 * float(x):5.1f}"  # type: ignore[arg-type]


def print_sweep(sweep: list[dict[str, object]], console: Console) -> None:
    t = Table(
        title="AR(1) identical canaries at other phi (reporting only): % flagged hx | kayenta-style || hx with history"
    )
    t.add_column("phi")
    for n in NS:
        t.add_column(f"n={n}", justify="right")
    for phi in SWEEP_PHIS:
        cells = {r["n"]: r for r in sweep if r["phi"] == phi}
        t.add_row(
            f"{phi:g}",
            *(
                f"{_pct(cells[n]['hx'])} | {_pct(cells[n]['kayenta'])} || {_pct(cells[n]['hx_with_history'])}"
                for n in NS
            ),
        )
    console.print(t)


def print_tables(grid: list[dict[str, object]], seq: list[dict[str, object]], console: Console) -> None:
    for model in MODELS:
        cells = [r for r in grid if r["model"] == model]
        effects = sorted({float(r["effect"]) for r in cells})  # type: ignore[arg-type]
        t = Table(
            title=f"{model}: % flagged (effect 0/x1 = false-positive rate; else power) hx | kayenta-style"
            + (
                f" | kayenta calibrated to hx FPR || hx given {HISTORY_HOURS} h of pre-canary baseline (for phi only)"
                " | kayenta calibrated to that FPR"
                if model == "ar1"
                else f" || hx given {HISTORY_HOURS} h of pre-canary baseline || exact z-test, noise level known"
                if model in ("iid_normal", "lognormal")
                else ""
            )
        )
        t.add_column("n")
        for e in effects:
            t.add_column(f"x{e:g}" if model == "poisson" else f"{e:+.0%}", justify="right")
        for n in NS:
            vals = []
            for e in effects:
                r = next(r for r in cells if r["n"] == n and r["effect"] == e)
                v = f"{_pct(r['hx'])} | {_pct(r['kayenta'])}"
                if model == "ar1":
                    v += f" | {_pct(r['kayenta_calibrated'])} || {_pct(r['hx_with_history'])}"
                    v += f" | {_pct(r['kayenta_calibrated_to_hx_with_history'])}"
                elif "hx_with_history" in r:
                    v += f" || {_pct(r['hx_with_history'])} || {_pct(r['oracle_z'])}"
                vals.append(v)
            t.add_row(str(n), *vals)
        console.print(t)
    t = Table(title="sequential (hx SequentialJudge): % flagged over all looks, mean stopping look")
    for col in ("model", "effect", "looks x chunk", "sequential", "naive repeated", "fixed n=K*chunk", "mean stop"):
        t.add_column(col, justify="right")
    for r in seq:
        eff = f"x{r['effect']:g}" if r["model"] == "poisson" else f"{float(r['effect']):+.0%}"  # type: ignore[arg-type]
        stop = "-" if r["mean_stop_look"] is None else f"{float(r['mean_stop_look']):.2f}"  # type: ignore[arg-type]
        t.add_row(
            str(r["model"]),
            eff,
            f"{r['looks']}x{r['chunk']}",
            _pct(r["sequential_flag_rate"]),
            _pct(r["naive_repeated_flag_rate"]),
            _pct(r["fixed_horizon_flag_rate"]),
            stop,
        )
    console.print(t)


def print_drift_and_targets(drift: list[dict[str, object]], targets: dict[str, object], console: Console) -> None:
    t = Table(title="AR(1) after a history with a daily level swing (reporting only): % flagged")
    for col in ("n", "effect", "history in hourly blocks", "history as one series", "no history"):
        t.add_column(col, justify="right")
    for r in drift:
        cells = (_pct(r[k]) for k in ("hourly_blocks", "one_series", "no_history"))
        t.add_row(str(r["n"]), f"{float(r['effect']):+.0%}", *cells)  # type: ignore[arg-type]
    console.print(t)
    t = Table(title="targets: hx as rollouts run it (with history) | ad hoc (no history)")
    cols = ("judge", "max FPR (target <= 1%)", "iid/lognormal/count cells below the reference")
    for col in (*cols, "AR(1) at equal FPR: higher / tie / lower"):
        t.add_column(col)
    for mode, v in targets.items():
        a = v["ar1_equal_fpr_cells"]  # type: ignore[index]
        t.add_row(
            mode,
            f"{_pct(v['max_fpr'])} ({v['max_fpr_cell']}; exact z-test there: {_pct(v['max_fpr_cell_oracle_z'])})",  # type: ignore[index]
            "; ".join(v["power_misses_iid_lognormal_counts"]) or "none",  # type: ignore[index]
            f"{a['higher']} / {a['tie_within_0.5']} / {a['lower']} (mean {a['mean_difference_points']:+.2f} points)",
        )
    console.print(t)


def print_short(short: list[dict[str, object]], console: Console) -> None:
    t = Table(title="short windows, no history (reporting only): % flagged")
    for col in ("model", "n", "effect", "hx", "hx, critical metric", "kayenta-style"):
        t.add_column(col, justify="right")
    for r in short:
        cells = (_pct(r[k]) for k in ("hx", "hx_critical", "kayenta"))
        t.add_row(str(r["model"]), str(r["n"]), f"{float(r['effect']):+.0%}", *cells)  # type: ignore[arg-type]
    console.print(t)


def machine() -> str:
    return f"{platform.node()} {platform.machine()} python {platform.python_version()} (shared 2-core box)"


def write_result(path: Path, result: dict[str, object], console: Console) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {path} in {result['seconds']} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100 repetitions a cell (smoke run)")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument(
        "--null-factor", type=int, default=40, help="repetitions of null cells = this x --reps (40: 1 %% to +-0.05)"
    )
    ap.add_argument("--looks", type=int, default=6)
    ap.add_argument("--chunk", type=int, default=20)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "canary.json")
    args = ap.parse_args(argv)
    reps = args.reps or (100 if args.quick else 1000)
    console = Console()
    t0 = time.time()
    grid = run_grid(reps, args.seed, lambda s: console.log(s), args.null_factor)
    seq = run_sequential(max(reps // 2, 50), args.seed, args.looks, args.chunk)
    sweep = run_phi_sweep(reps * 4, args.seed)
    drift = run_drift(reps * 4, args.seed)
    short = run_short_windows(reps * 4, args.seed)
    targets = target_summary(grid)
    print_tables(grid, seq, console)
    print_sweep(sweep, console)
    print_drift_and_targets(drift, targets, console)
    print_short(short, console)
    result = {
        "benchmark": "canary",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "data": "simulated (no real traces)",
        "seed": args.seed,
        "reps_per_cell": reps,
        "reps_per_null_cell": reps * args.null_factor,
        "reps_per_ar1_cell": reps * AR1_FACTOR,
        "quick": args.quick,
        "parameters": {
            "mu": MU,
            "sd": SD,
            "lognormal_sigma": LN_SIGMA,
            "ar1_phi": PHI,
            "poisson_rate": RATE,
            "hx": "defaults: alpha 0.01 one-sided, tolerance 0.02, direction increase, guards on (max_increase 0.8)",
            "kayenta_style": {"confidence": KAYENTA_CONF, "tolerance": KAYENTA_TOL},
            "history": f"{HISTORY_HOURS} h at {STEP_S:g} s ({HISTORY} points) in hourly blocks, as rollouts read it",
        },
        "grid": grid,
        "sequential": seq,
        "ar1_phi_sweep_null": sweep,
        "history_drift": drift,
        "short_windows": short,
        "targets": targets,
        "seconds": round(time.time() - t0, 1),
    }
    write_result(args.out, result, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A rejected variant of the canary judge, measured: test lag-1 autocorrelation > 0 before correcting for it.

SIMULATED data only, on a development seed (not bench/canary.py's).  Without history, hx misses the reference's
power on independent 10-point windows (bench/canary.py: +50 %, 68.6 vs 95.2), because it corrects for the
autocorrelation it estimates from the two windows themselves, and 20 points estimate it to about +-0.3.  An
obvious repair is a pretest: use phi = 0 unless the windows show evidence of positive lag-1 autocorrelation
(the bias-corrected pooled estimate above the one-sided ``level`` quantile of its null distribution, standard
error ``1 / sqrt(N)``), and the current correction otherwise.  This script measures, at n = 10 and without
history, what that does to the false-positive rate on identical AR(1) canaries at phi 0, 0.3, 0.5, 0.7 (the
grid's) and 0.9, and to power on independent data at +30 % and +50 %.

Also measured, as the second rejected variant: a posterior for phi instead of a plug-in estimate plus a margin --
the bias-corrected pooled estimate shrunk toward the prior ``PHI_PRIOR`` (worth ``k`` points) with a weight that
grows with the number of points, uncalibrated (k = 4, 8, 16) and calibrated back to 1 % at phi 0.7 on a
development run (k = 8 plus half a standard error of the estimate).

A pretest is a rule of the form "naive t above a threshold set by the lag-1 estimate", so its power is bounded
by bench/canary_limits.py's in-sample ceiling for such rules at a 1 % false-positive rate (75 % at +50 %).

Run: .venv/bin/python bench/canary_pretest.py [--reps N] [--seed S]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import hx.deploy.judge_stats as js  # noqa: E402
from canary import MU, SD, ar1_noise, machine, simulate, write_result  # noqa: E402

Array = np.ndarray
N = 10
NULL_PHIS = (0.0, 0.3, 0.5, 0.7, 0.9)
EFFECTS = (0.3, 0.5)
LEVELS = (0.2, 0.05)
#: (prior weight k in points, standard errors added) of the posterior variants
POSTERIORS = ((4.0, 0.0), (8.0, 0.0), (16.0, 0.0), (8.0, 0.5))
CURRENT = js.lag1_for
Lag1 = Callable[[list[js.FloatArray], float], float]


def corrected_lag1(series: list[js.FloatArray]) -> tuple[float, int]:
    """Bias-corrected pooled lag-1 autocorrelation (unclipped, no margin) and the number of points pooled."""
    num = den = 0.0
    total = k = 0
    for x in series:
        r = x - x.mean()
        num += float(np.dot(r[1:], r[:-1]))
        den += float(np.dot(r, r))
        total += x.size
        k += 1
    inv = k / total
    return (num / den + inv) / (1.0 - 3.0 * inv), total


def with_pretest(level: float) -> Lag1:
    """``lag1_for`` preceded by a one-sided test of lag-1 autocorrelation > 0 at ``level``."""
    z = float(stats.norm.ppf(1.0 - level))

    def lag1(series: list[js.FloatArray], margin: float = js.PHI_MARGIN) -> float:
        usable = [x for x in series if x.size >= 3]
        if not js.estimable(usable):
            return js.PHI_PRIOR
        r, total = corrected_lag1(usable)
        return 0.0 if r < z / math.sqrt(total) else CURRENT(series, margin)

    return lag1


def with_posterior(k: float, margin_se: float) -> Lag1:
    """``lag1_for`` as a posterior: the estimate shrunk toward the prior (worth ``k`` points), plus a margin."""

    def lag1(series: list[js.FloatArray], margin: float = js.PHI_MARGIN) -> float:
        usable = [x for x in series if x.size >= 3]
        if not usable:
            return js.PHI_PRIOR
        r, total = corrected_lag1(usable)
        points = total - len(usable)
        post = (k * js.PHI_PRIOR + points * min(max(r, 0.0), js.PHI_MAX)) / (k + points)
        raised = post + margin_se * math.sqrt((1.0 - min(post, js.PHI_MAX) ** 2) / points)
        return float(min(max(raised, 0.0), js.PHI_MAX))

    return lag1


def flag_rate(base: Array, canary: Array) -> float:
    return float(np.mean([js.compare_continuous(b, c).status == "fail" for b, c in zip(base, canary, strict=True)]))


def measure(name: str, lag1: Lag1, reps: int, seed: int) -> dict[str, object]:
    """False-positive rates on identical AR(1) canaries and power on independent data, for one variant."""
    js.lag1_for = lag1  # type: ignore[assignment]  # the variant under test; restored by the caller
    rng = np.random.default_rng(seed)
    row: dict[str, object] = {"variant": name}
    for phi in NULL_PHIS:
        b, c = MU + SD * ar1_noise(rng, reps, N, phi), MU + SD * ar1_noise(rng, reps, N, phi)
        row[f"fpr_phi_{phi:g}"] = flag_rate(b, c)
    for eff in EFFECTS:
        row[f"power_iid_{eff:+.0%}"] = flag_rate(*simulate("iid_normal", N, eff, reps // 4, rng))
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=2000, help="repetitions per null cell (a quarter per power cell)")
    ap.add_argument("--seed", type=int, default=11, help="development seed (canary.py uses another)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "canary_pretest.json")
    args = ap.parse_args(argv)
    console = Console()
    t0 = time.time()
    variants: list[tuple[str, Lag1]] = [("current", CURRENT)]
    variants += [(f"pretest at {lv:g}", with_pretest(lv)) for lv in LEVELS]
    variants += [(f"posterior k={k:g} +{m:g} se", with_posterior(k, m)) for k, m in POSTERIORS]
    try:
        rows = [measure(name, fn, args.reps, args.seed) for name, fn in variants]
    finally:
        js.lag1_for = CURRENT
    t = Table(title=f"n = {N}, no history: % flagged (identical AR(1) canaries; independent data with an effect)")
    for col in rows[0]:
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(str(r["variant"]), *(f"{100 * float(v):.2f}" for k, v in r.items() if k != "variant"))  # type: ignore[arg-type]
    console.print(t)
    result = {
        "benchmark": "canary_pretest",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "data": "simulated (no real traces); development seed, not canary.py's",
        "seed": args.seed,
        "reps_null": args.reps,
        "reps_power": args.reps // 4,
        "n": N,
        "rows": rows,
        "seconds": round(time.time() - t0, 1),
    }
    write_result(args.out, result, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

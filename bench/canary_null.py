"""The false-positive rate of hx with history on fresh draws, beside an exact 1 % test on the same draws.

SIMULATED data only, on a development seed (not bench/canary.py's).  bench/canary.py scores each null cell on
10,000 pairs, so a test whose size is near 1 % lands either side of 1 % from one cell to the next (standard error
0.1 point).  This script asks whether a cell above 1 % says something about the judge or about the draw: on
10,000 fresh identical canaries per cell (iid normal and lognormal, n = 10 and 60, with the rollouts' 6 hours of
history) it reports the share hx flags and the share flagged by the exact one-sided z-test at 1 % that knows the
noise level (on logs for the lognormal model), which flags 1 % on average by construction.

Run: .venv/bin/python bench/canary_null.py [--reps N] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from canary import (  # noqa: E402
    cell_rng,
    hx_flags,
    machine,
    oracle_z_flags,
    simulate,
    simulate_history,
    write_result,
)

CELLS = (("iid_normal", 10), ("iid_normal", 60), ("lognormal", 10), ("lognormal", 60))


def measure(model: str, n: int, reps: int, seed: int) -> dict[str, object]:
    """hx with history and the exact z-test on the same ``reps`` identical canaries of one cell."""
    base, can = simulate(model, n, 0.0, reps, cell_rng(seed, "null", model, n))
    hist = simulate_history(model, reps, cell_rng(seed, "null", model, n, "history"))
    hx = float(hx_flags(model, base, can, hist).mean())
    exact = float(oracle_z_flags(model, base, can).mean())
    se = (0.01 * 0.99 / reps) ** 0.5
    return {"model": model, "n": n, "reps": reps, "hx_with_history": hx, "exact_z": exact, "se": se}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=7, help="development seed (canary.py uses another)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "canary_null.json")
    args = ap.parse_args(argv)
    console = Console()
    t0 = time.time()
    rows = [measure(model, n, args.reps, args.seed) for model, n in CELLS]
    t = Table(title="identical canaries, hx with 6 h of history: % flagged, beside an exact 1 % test")
    for col in ("model", "n", "reps", "hx with history", "exact z-test", "standard error at 1 %"):
        t.add_column(col, justify="right")
    for r in rows:
        pct = (f"{100 * float(r[k]):.2f}" for k in ("hx_with_history", "exact_z", "se"))  # type: ignore[arg-type]
        t.add_row(str(r["model"]), str(r["n"]), str(r["reps"]), *pct)
    console.print(t)
    result = {
        "benchmark": "canary_null",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "data": "simulated (no real traces); development seed, not canary.py's",
        "seed": args.seed,
        "rows": rows,
        "seconds": round(time.time() - t0, 1),
    }
    write_result(args.out, result, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Placement benchmark: exact MILP vs greedy (SkyPilot-style) vs best single cloud, on seeded mixes.

Run: .venv/bin/python bench/placement.py [--quick] [--sizes 100,1000,10000] [--time-limit 60]
Writes bench/results/placement.json and prints a table. Prices: hx's built-in catalog (public list
prices, see its 'taken' date); workloads: synthetic (hx.cloud.mix.standard_mix), so every figure here
comes from simulated estates.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from hx.cloud.baselines import greedy
from hx.cloud.candidates import PlacementInfeasible
from hx.cloud.catalog import Catalog
from hx.cloud.mix import single_cloud_variant, standard_mix
from hx.cloud.placement import PlacementOptions, candidate_sets, place
from hx.cloud.rf import PlacementRanker
from hx.cloud.verify import violations


def best_single_cloud(estate: Any, cat: Catalog, opts: PlacementOptions) -> tuple[str | None, float | None]:
    best: tuple[str | None, float | None] = (None, None)
    variant = single_cloud_variant(estate)
    for c in cat.clouds():
        try:
            total = place(variant, cat, opts.model_copy(update={"clouds": [c]})).total_usd_per_hour
        except PlacementInfeasible:
            continue
        if best[1] is None or total < best[1]:
            best = (c, total)
    return best


def run_size(
    n: int, cat: Catalog, opts: PlacementOptions, ranker: PlacementRanker | None, single: bool
) -> dict[str, Any]:
    est = standard_mix(n, seed=1000 + n)
    t0 = time.perf_counter()
    plan = place(est, cat, opts)
    solve_s = time.perf_counter() - t0
    viol = violations(plan.assignments, est, cat)
    g = greedy(est, cat)
    row: dict[str, Any] = {
        "workloads": n,
        "egress_pairs": len(est.egress),
        "solve_s": round(solve_s, 2),
        "status": plan.status,
        "gap": plan.mip_gap,
        "violations": len(viol),
        "greedy_violations": len(violations(g.assignments, est, cat)),
        "milp_usd_h": round(plan.total_usd_per_hour, 3),
        "greedy_usd_h": round(g.total_usd_per_hour, 3),
        "vs_greedy_pct": round(100 * (1 - plan.total_usd_per_hour / g.total_usd_per_hour), 2),
        "variables": plan.variables,
        "constraints": plan.constraints,
    }
    if single:
        cloud, total = best_single_cloud(est, cat, opts)
        row["best_single_cloud"] = cloud
        row["single_cloud_usd_h"] = None if total is None else round(total, 3)
        row["vs_single_cloud_pct"] = None if total is None else round(100 * (1 - plan.total_usd_per_hour / total), 2)
    if ranker is not None:
        picks = ranker.predict(est, candidate_sets(est, cat))
        chosen = {a.workload: a.placements[0].location for a in plan.assignments if len(a.placements) == 1}
        agree = [picks[k] == chosen[k] for k in picks if k in chosen]
        row["rf_agreement"] = round(sum(agree) / max(1, len(agree)), 3)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--no-single", action="store_true", help="skip the best-single-cloud baseline")
    args = ap.parse_args()
    sizes = [100] if args.quick else [int(s) for s in args.sizes.split(",")]
    cat = Catalog.builtin()
    opts = PlacementOptions(explain=False, time_limit_s=args.time_limit)
    train = standard_mix(60, seed=7)  # training mix: a different seed from every benchmark mix
    ranker = PlacementRanker().fit(train, candidate_sets(train, cat), place(train, cat, opts))
    rows = [run_size(n, cat, opts, ranker, single=not args.no_single) for n in sizes]
    out = {
        "benchmark": "placement",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.python_version()}, 2 cores shared with other jobs, "
        f"load average at start {os.getloadavg()[0]:.1f}",
        "catalog_taken": cat.meta.get("taken"),
        "data": "synthetic workload mixes (hx.cloud.mix.standard_mix)",
        "parameters": {"mip_rel_gap": opts.mip_rel_gap, "time_limit_s": args.time_limit, "sizes": sizes},
        "targets": {"10k_solve_s": 30, "gap": 0.005, "violations": 0, "vs_single_cloud_pct": 15},
        "results": rows,
    }
    path = Path(__file__).parent / "results" / "placement.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    table = Table(title="placement (targets: 10k in <=30 s at gap <=0.5%, 0 violations, >=15% below best single cloud)")
    cols = [
        "workloads",
        "solve_s",
        "status",
        "gap",
        "violations",
        "milp_usd_h",
        "greedy_usd_h",
        "vs_greedy_pct",
        "best_single_cloud",
        "single_cloud_usd_h",
        "vs_single_cloud_pct",
        "rf_agreement",
    ]
    for col in cols:
        table.add_column(col)
    for r in rows:
        table.add_row(*[f"{r[c]:.2e}" if c == "gap" and r.get(c) is not None else str(r.get(c)) for c in cols])
    Console().print(table)


if __name__ == "__main__":
    main()

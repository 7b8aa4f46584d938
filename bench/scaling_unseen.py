"""Scaling on series the scaler was never designed on: NAB's CloudWatch, traffic and ad-exchange series as demand.

    python bench/scaling_unseen.py [--quick]

bench/scaling.py judges the predictive scaler on NASA, Alibaba and Azure, the traces its rule and margins were
designed on.  This run asks the same question of series that played no part in that design: every NAB series
under ``nab/data/{realAWSCloudwatch,realTraffic,realAdExchange}`` of ``$HX_DATA_DIR`` (or ``../shared/data``)
that spans at least 9 days, has no negative value and is not constant -- a rule fixed before any run, with no
series dropped after.  They are CPU, network, disk, request counts, traffic occupancy, speed and travel times: not
all are request rates, which makes them a stress test of the method's shape assumptions more than a sample of
services.  Nothing is chosen on them: the alpha of each is chosen by the engine's own rule (``auto``) on that
series' days before the replayed ones, so every figure is out-of-sample (there is no all-data figure to set
beside it).

Each series runs through the functions behind ``hx scale simulate --policy hpa --policy predictive
--calibration-alpha auto`` with that command's defaults (99.5th percentile scaled to 1,000 req/s, 50 req/s a
replica, 2-minute start-up), replaying its last D days, D = the whole days beyond its first 7 (at most 7), so
that at least a week comes before them.  A series hx refuses (rows too coarse or irregular to replay) is listed with
the refusal.  SIMULATED service behaviour driven by real shapes, as in bench/scaling.py.

Target (as bench/scaling.py's): at least 50 % fewer SLO-violation minutes than HPA and no more replica-hours.  A
series where HPA has under 5 violation minutes is marked: halving a handful is weak evidence.
Writes bench/results/scaling_unseen.json.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from canary import machine, write_result  # noqa: E402
from hx.errors import BadInput  # noqa: E402
from hx.lab.scaling_replay import auto_choice, prepare_trace, replay, usable_warmup  # noqa: E402

FOLDERS = ("realAWSCloudwatch", "realTraffic", "realAdExchange")
MIN_SPAN_DAYS = 9.0
LEARN_DAYS = 7.0
MAX_REPLAY_DAYS = 7
WEAK_BELOW = 5.0
CAPACITY, STARTUP_S, SEED = 50.0, 120.0, 1


def data_dir() -> Path:
    return Path(os.environ.get("HX_DATA_DIR", ROOT.parent / "shared" / "data"))


def _times_values(path: Path) -> tuple[list[float], list[float]]:
    ts: list[float] = []
    vs: list[float] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            ts.append(datetime.fromisoformat(row["timestamp"]).replace(tzinfo=UTC).timestamp())
            vs.append(float(row["value"]))
    return ts, vs


def selected(root: Path) -> list[tuple[Path, float]]:
    """The series the rule keeps, with their span in days."""
    out = []
    for folder in FOLDERS:
        for path in sorted((root / "nab" / "data" / folder).glob("*.csv")):
            ts, vs = _times_values(path)
            span = (max(ts) - min(ts)) / 86400.0
            if span >= MIN_SPAN_DAYS and min(vs) >= 0 and max(vs) > min(vs):
                out.append((path, span))
    return out


def run_one(path: Path, span_days: float, quick: bool) -> dict[str, Any]:
    days = 1 if quick else max(1, min(MAX_REPLAY_DAYS, math.floor(span_days - LEARN_DAYS)))
    row: dict[str, Any] = {"series": f"{path.parent.name}/{path.stem}", "span_days": round(span_days, 2), "days": days}
    t0 = time.time()
    try:
        tr = prepare_trace(str(path), test_days=float(days))
    except BadInput as err:
        return row | {"refused": str(err)}
    choice, cfg = auto_choice(tr, cap=CAPACITY, startup_s=STARTUP_S)
    hpa = replay(tr, "hpa", cap=CAPACITY, startup_s=STARTUP_S, seed=SEED)
    hx = replay(tr, "predictive", cap=CAPACITY, startup_s=STARTUP_S, seed=SEED, config=cfg, warmup_s=usable_warmup(tr))
    v_h, v_x = hpa.slo_violation_minutes, hx.slo_violation_minutes
    rh_h, rh_x = hpa.replica_hours, hx.replica_hours
    slo = v_x <= 0.5 * v_h if v_h > 0 else v_x == 0
    cost = rh_x <= rh_h
    return row | {
        "alpha": choice.alpha,
        "alpha_reason": choice.reason,
        "hpa": {"slo_violation_minutes": v_h, "replica_hours": round(rh_h, 2), "actions": hpa.actions},
        "hx": {"slo_violation_minutes": v_x, "replica_hours": round(rh_x, 2), "actions": hx.actions},
        "violations_change": (v_x / v_h - 1.0) if v_h > 0 else None,
        "replica_hours_ratio": rh_x / rh_h if rh_h > 0 else None,
        "slo_half_met": slo,
        "cost_half_met": cost,
        "target_met": slo and cost,
        "weak_evidence": v_h < WEAK_BELOW,
        "seconds": round(time.time() - t0, 1),
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    run = [r for r in rows if "refused" not in r]
    strong = [r for r in run if not r["weak_evidence"]]
    return {
        "selected": len(rows),
        "refused": len(rows) - len(run),
        "replayed": len(run),
        "target_met": sum(r["target_met"] for r in run),
        "slo_half_met": sum(r["slo_half_met"] for r in run),
        "cost_half_met": sum(r["cost_half_met"] for r in run),
        "hpa_at_least_5_violation_minutes": len(strong),
        "target_met_there": sum(r["target_met"] for r in strong),
    }


def show(rows: list[dict[str, Any]], s: dict[str, Any], console: Console) -> None:
    t = Table(title="hx (alpha auto) vs HPA on NAB series never used to design the scaler (simulated replay)")
    for col in ("series", "days", "alpha", "violation min HPA -> hx", "replica-h ratio", "actions HPA/hx", "target"):
        t.add_column(col, justify="left" if col == "series" else "right")
    for r in rows:
        if "refused" in r:
            t.add_row(r["series"], str(r["days"]), "-", "refused", "-", "-", "-")
            continue
        weak = " (weak: HPA < 5)" if r["weak_evidence"] else ""
        verdict = (
            "met"
            if r["target_met"]
            else "missed "
            + "/".join(h for h, ok in (("SLO", r["slo_half_met"]), ("cost", r["cost_half_met"])) if not ok)
        )
        t.add_row(
            r["series"],
            str(r["days"]),
            f"{r['alpha']:g}",
            f"{r['hpa']['slo_violation_minutes']:.0f} -> {r['hx']['slo_violation_minutes']:.0f}",
            "-" if r["replica_hours_ratio"] is None else f"{r['replica_hours_ratio']:.3f}",
            f"{r['hpa']['actions']}/{r['hx']['actions']}",
            verdict + weak,
        )
    console.print(t)
    console.print(
        f"target (>= 50 % fewer SLO-violation minutes at <= HPA's replica-hours): met on {s['target_met']} of "
        f"{s['replayed']} replayed ({s['target_met_there']} of the {s['hpa_at_least_5_violation_minutes']} where HPA "
        f"has >= 5 violation minutes); SLO half {s['slo_half_met']}, cost half {s['cost_half_met']}; "
        f"{s['refused']} of {s['selected']} refused (reasons in the JSON)"
    )
    console.print("reference (bench/scaling.py, the design traces): NASA, Alibaba and Azure meet both halves")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="replay one day of each series (smoke run)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scaling_unseen.json")
    args = ap.parse_args(argv)
    console = Console()
    t0 = time.time()
    chosen = selected(data_dir())
    rows = []
    with Progress(console=console) as progress:
        task = progress.add_task("series", total=len(chosen))
        for path, span in chosen:
            rows.append(run_one(path, span, args.quick))
            progress.advance(task)
    s = summary(rows)
    show(rows, s, console)
    result = {
        "benchmark": "scaling_unseen",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "data": "NAB series (real shapes) as demand; service behaviour SIMULATED",
        "selection": f"every series of {', '.join(FOLDERS)} spanning >= {MIN_SPAN_DAYS:g} days, none negative, "
        "not constant (fixed before any run)",
        "quick": args.quick,
        "summary": s,
        "rows": rows,
        "seconds": round(time.time() - t0, 1),
    }
    write_result(args.out, result, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())

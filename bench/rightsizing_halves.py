"""Right-sizing on fleets it has not seen whole: random halves of the Bitbrains VMs, as ``hx cost rightsize --fleet``.

    python bench/rightsizing_halves.py [--splits 4] [--seed 42]

bench/rightsizing.py reports the fleet budget on the whole Bitbrains Rnd folder (250 VMs of
``$HX_DATA_DIR/traces/bitbrains-rnd-2013-7``).  The review checks the same command on VMs the project never had, so
this asks how much the figures move with the fleet's make-up: the folder is split at random into two halves,
``--splits`` times, and each half goes through what ``hx cost rightsize --fleet`` runs (the GWA files read as
published, the default risk budget and VPA cap), whose learn/judge check learns on the first 70 % of the grid and
judges the rest.  Nothing is chosen on these runs (the method and its defaults are fixed), so every figure is
out-of-sample by construction; the halves are not independent of bench/rightsizing.py's figure, which pools them.

Target (bench/rightsizing.py's, on the judged days): at least 20 % less capacity than the VPA-style rule (p90 x 1.15)
on both CPU and memory, at no higher exceed rate.  Writes bench/results/rightsizing_halves.json.
"""

from __future__ import annotations

import argparse
import os
import random
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
from hx.cost import WorkloadHistory  # noqa: E402
from hx.cost.report import rightsize_report  # noqa: E402
from hx.errors import BadInput  # noqa: E402
from hx.readers import Usage, read_usage, usage_files  # noqa: E402

TARGET = 0.20
RESOURCES = ("cpu", "memory_gib")


def folder() -> Path:
    return Path(os.environ.get("HX_DATA_DIR", ROOT.parent / "shared" / "data")) / "traces" / "bitbrains-rnd-2013-7"


def read_all(progress: Progress) -> dict[str, tuple[Usage, str]]:
    files = usage_files([folder()])
    task = progress.add_task("reading the VM files", total=len(files))
    out: dict[str, tuple[Usage, str]] = {}
    for f in files:
        try:
            out.update({name: (u, str(f)) for name, u in read_usage([f]).items()})
        except BadInput:  # the CLI skips an unreadable file of a folder the same way
            pass
        progress.advance(task)
    return out


def judge_half(usage: dict[str, tuple[Usage, str]], names: list[str]) -> dict[str, Any]:
    histories = {
        n: WorkloadHistory(u.timestamps, u.cpu, u.memory_gib, u.provisioned_cpu, u.provisioned_memory_gib)
        for n, (u, _) in ((n, usage[n]) for n in names)
    }
    report = rightsize_report(histories, {n: usage[n][1] for n in names}, fleet=True)
    check = (report.fleet or {})["learn_judge"]
    row: dict[str, Any] = {"vms": len(names), "judged": check["workloads_judged"]}
    for res in RESOURCES:
        c = check[res]
        row[res] = {k: c[k] for k in ("reduction_vs_vpa", "exceed_hx", "exceed_vpa")}
    row["target_met"] = all(
        row[r]["reduction_vs_vpa"] >= TARGET and row[r]["exceed_hx"] <= row[r]["exceed_vpa"] for r in RESOURCES
    )
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splits", type=int, default=4, help="random splits into two halves")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "rightsizing_halves.json")
    args = ap.parse_args(argv)
    console = Console()
    t0 = time.time()
    rows = []
    with Progress(console=console) as progress:
        usage = read_all(progress)
        names = sorted(usage)
        rng = random.Random(args.seed)
        task = progress.add_task("halves", total=2 * args.splits)
        for split in range(args.splits):
            rng.shuffle(names)
            for half, part in (("a", names[: len(names) // 2]), ("b", names[len(names) // 2 :])):
                rows.append({"split": split, "half": half, **judge_half(usage, sorted(part))})
                progress.advance(task)
    t = Table(title="hx cost rightsize --fleet on random halves of the Bitbrains VMs (judged days, out-of-sample)")
    for col in ("half", "VMs judged", "CPU less vs VPA", "CPU exceed hx / VPA", "memory less", "mem exceed", "target"):
        t.add_column(col, justify="right")
    for r in rows:
        cpu, mem = r["cpu"], r["memory_gib"]
        t.add_row(
            f"{r['split']}{r['half']}",
            str(r["judged"]),
            f"{cpu['reduction_vs_vpa']:.1%}",
            f"{cpu['exceed_hx']:.2%} / {cpu['exceed_vpa']:.2%}",
            f"{mem['reduction_vs_vpa']:.1%}",
            f"{mem['exceed_hx']:.2%} / {mem['exceed_vpa']:.2%}",
            "met" if r["target_met"] else "missed",
        )
    console.print(t)
    lo = {res: min(r[res]["reduction_vs_vpa"] for r in rows) for res in RESOURCES}
    met = sum(r["target_met"] for r in rows)
    console.print(
        f"target (>= {TARGET:.0%} less than the VPA-style rule on CPU and memory at no higher exceed rate): met on "
        f"{met} of {len(rows)} halves; least reduction CPU {lo['cpu']:.1%}, memory {lo['memory_gib']:.1%} "
        "(reference, the whole folder in bench/rightsizing.py: CPU 48.4 %, memory 32.2 %)"
    )
    result = {
        "benchmark": "rightsizing_halves",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "data": "Bitbrains GWA-T-12 Rnd (real usage), random halves",
        "seed": args.seed,
        "splits": args.splits,
        "target_met": met,
        "halves": len(rows),
        "least_reduction": lo,
        "rows": rows,
        "seconds": round(time.time() - t0, 1),
    }
    write_result(args.out, result, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())

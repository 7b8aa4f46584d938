"""How fast the simulated fleet runs: simulated minutes per wall second for 10, 100 and 1,000 services.

Target (from the issue): a day (1,440 one-minute steps) of 100 services in under 10 s on one core.
Traffic is the vendored weekly profile derived from the NASA KSC HTTP 1995 log (no data folder needed);
all figures are from simulated data. Run from the repo root:

    .venv/bin/python bench/sim_speed.py            # full: a simulated day per fleet size
    .venv/bin/python bench/sim_speed.py --quick    # smoke run: two simulated hours
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

from hx.sim.engine import Simulation
from hx.sim.spec import make_fleet

RESULTS = Path(__file__).resolve().parent / "results" / "sim_speed.json"
TARGET_S = 10.0  # a day of 100 services at 60 s steps


def measure(services: int, step_s: float, steps: int, seed: int = 0) -> dict[str, Any]:
    t_build = time.perf_counter()
    sim = Simulation(make_fleet(services, seed=seed, step_s=step_s), step_s=step_s)
    build_s = time.perf_counter() - t_build
    wall0, cpu0 = time.perf_counter(), time.process_time()
    sim.run(steps=steps)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    sim_minutes = steps * step_s / 60.0
    day_steps = 86400.0 / step_s
    return {
        "services": services,
        "replicas": len(sim.instances()),
        "step_s": step_s,
        "steps": steps,
        "build_s": round(build_s, 3),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "ms_per_step_wall": round(1000 * wall / steps, 3),
        "sim_minutes_per_wall_s": round(sim_minutes / wall, 1),
        "sim_minutes_per_cpu_s": round(sim_minutes / max(cpu, 1e-9), 1),
        "day_wall_s_extrapolated": round(wall / steps * day_steps, 2),
        "day_cpu_s_extrapolated": round(cpu / steps * day_steps, 2),
    }


def _verdict(r: dict[str, Any]) -> str:
    cpu = "met" if r["day_cpu_s_extrapolated"] < TARGET_S else "MISSED"
    wall = "met" if r["day_wall_s_extrapolated"] < TARGET_S else "missed"
    return f"< {TARGET_S:.0f} s: cpu {cpu}, wall {wall} (load {os.getloadavg()[0]:.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two simulated hours per size instead of a day")
    args = ap.parse_args()
    minutes = 120 if args.quick else 1440
    cases = [(10, 60.0), (100, 60.0), (1000, 60.0), (100, 15.0)]
    rows = [measure(n, step, int(minutes * 60 / step) if step == 60.0 else minutes) for n, step in cases]
    day100 = next(r for r in rows if r["services"] == 100 and r["step_s"] == 60.0)
    result = {
        "benchmark": "sim_speed",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": {"quick": args.quick, "simulated_minutes": minutes, "trace": "profile (NASA-derived)"},
        "target": {"what": "1,440 one-minute steps of 100 services", "seconds": TARGET_S},
        "target_met_wall": day100["day_wall_s_extrapolated"] < TARGET_S,
        "target_met_cpu": day100["day_cpu_s_extrapolated"] < TARGET_S,
        "rows": rows,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "note": "shared 2-core machine; wall times include other processes' load, cpu_s is this process only",
        },
        "data": "simulated fleet; traffic shape derived from the public NASA KSC HTTP 1995 log",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    table = Table(title=f"hx.sim speed ({'quick' if args.quick else 'full'}; target: a day of 100 services < 10 s)")
    for col in ("services", "replicas", "step", "steps", "wall s", "cpu s", "ms/step", "sim min / wall s",
                "day, wall s", "day, cpu s", "target"):  # fmt: skip
        table.add_column(col, justify="right")
    for r in rows:
        is_target = r["services"] == 100 and r["step_s"] == 60.0
        table.add_row(
            str(r["services"]), str(r["replicas"]), f"{r['step_s']:.0f} s", str(r["steps"]), f"{r['wall_s']:.2f}",
            f"{r['cpu_s']:.2f}", f"{r['ms_per_step_wall']:.2f}", f"{r['sim_minutes_per_wall_s']:.0f}",
            f"{r['day_wall_s_extrapolated']:.2f}", f"{r['day_cpu_s_extrapolated']:.2f}",
            _verdict(r) if is_target else "",
        )  # fmt: skip
    Console(width=170).print(table)
    print(f"wrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    main()

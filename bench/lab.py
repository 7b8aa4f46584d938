"""Lab benchmark: hx acting on a real fleet (``hx lab``: HAProxy, supervisord, Prometheus, Alertmanager, load).

Measured on the real lab, each figure from the servers' own records and hx's events:

- **bad rollout**: a version whose p95 is doubled (added latency equal to the baseline p95) rolled out by canary;
  seconds from its first traffic step to ``deployment.rolled_back``, and its share of all requests the backend
  answered (HAProxy's per-server ``stot``, sampled every 0.5 s);
- **killed instance**: SIGKILL of one instance -> ``InstanceCrashed`` (shipped rule) -> Alertmanager -> incident
  -> restart runbook; seconds from the kill to the incident's resolution, and hx's own ``mttr_s``;
- **tripling ramp**: from 2 instances, ``--settle`` seconds at the base load with the policy acting (each policy
  enters the ramp from its own steady state, unmeasured); then the load triples over ``--ramp`` seconds, holds
  ``--hold`` seconds and falls back to the base for ``--fall`` seconds; each instance of the ramped tier
  (``SCALE_TIER``) has a bounded worker pool (``--workers`` requests at once, ``--service-ms`` of waiting each: a
  capacity that does not depend on how busy the shared machine is);
  SLO-violation seconds (seconds whose p95 seen by the load generator exceeds the SLO, or that failed requests),
  instance-seconds of that tier, its scaling actions and most instances, once with hx's predictive scaler acting
  (capacity estimated from the exported saturation) and once with an HPA-style loop (``hx.scale.hpa.HpaPolicy``:
  ``ceil(n x utilisation / target)`` on the same saturation, requests in flight by Little's law over the pools, with a
  scale-down stabilisation window equal to hx's scale-in window) driving the same fleet actuator while hx's scaler
  only recommends;
- **hx's CPU per managed instance**: CPU seconds of the ``hx serve`` process per second, divided by the instances.

Beside them the simulator's figures from ``bench/results/{canary,heal,scaling}.json``.
Run: ``nice .venv/bin/python bench/lab.py [--ramp 180] [--hold 90] [--fall 120]`` (about 20 minutes; ``--quick``
runs the tripling ramps only) -> ``bench/results/lab.json``.  The machine is shared with other jobs: the figures
are as measured there, load average recorded.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform as pyplatform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from hx.lab.fleet_lab import LAB_TEMPLATES, LabOptions, LabState, down, start_hx, up
from hx.lab.scenarios import ROLLOUT_TIER, SCALE_TIER, Lab, ServedCounter, by_version, run, slo_breaches
from hx.scale.hpa import HpaPolicy

RESULTS = Path(__file__).resolve().parent / "results"
SLO_P95_S = 0.25


def ts(e: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(e["ts"])).timestamp()


def bad_rollout(lab: Lab) -> dict[str, Any]:
    counter = ServedCounter(lab, ROLLOUT_TIER)
    out = run(lab.state, "bad-rollout", timeout_s=300, say=lambda _m: None)
    served = by_version(counter.stop())
    bad = out.figures["version"]
    first = next((ts(e) for e in out.events if e["type"] == "deployment.step"
                  and e["data"]["step"]["kind"] == "traffic"), None)  # fmt: skip
    end = next((ts(e) for e in out.events if e["type"] == "deployment.rolled_back"), None)
    analyses = [e["data"]["status"] for e in out.events if e["type"] == "deployment.analysis"]
    return {
        "rolled_back": end is not None,
        "analyses": analyses,
        "detection_to_rollback_s": round(end - first, 1) if first and end else None,
        "bad_share": round(served.get(bad, 0) / max(1, sum(served.values())), 4),
        "served": served,
        "baseline_p95_s": out.figures.get("baseline_p95_s"),
        "baseline_p95_max_10m_s": out.figures.get("baseline_p95_max_10m_s"),
        "added_latency_ms": out.figures.get("added_latency_ms"),
    }


def killed_instance(lab: Lab) -> dict[str, Any]:
    out = run(lab.state, "kill-instance", timeout_s=300, say=lambda _m: None)
    resolved = next((e for e in out.events if e["type"] == "incident.resolved"), None)
    return {
        "recovered": out.done,
        "kill_to_resolved_s": round(ts(resolved) - out.figures["killed_at"], 1) if resolved else None,
        "hx_mttr_s": round(float(resolved["data"]["mttr_s"]), 1) if resolved else None,
        "runbook_reason": resolved["data"].get("reason") if resolved else None,
    }


def _instances(lab: Lab, tier: str) -> int:
    return sum(1 for i in lab.instances(tier) if i.running)


def _saturation(lab: Lab, tier: str) -> float:
    """The tier's saturation as the lab's hx reads it (``LAB_TEMPLATES["saturation"]``): requests in flight by
    Little's law over the worker pools, for the whole tier."""
    q = LAB_TEMPLATES["saturation"].replace("sum by ({by}) ", "sum ")
    q = q.replace("{service}", tier).replace("{window}", "30s")
    got = httpx.get(lab.state.url("prometheus") + "/api/v1/query", params={"query": q}, timeout=10).json()
    res = got["data"]["result"]
    return float(res[0]["value"][1]) if res else float("nan")


def _hx_actions(lab: Lab, after: int, t0: float) -> list[dict[str, Any]]:
    evs, _ = lab.events(after)
    return [{"t": round(ts(e) - t0, 1), "from": e["data"].get("before"), "to": e["data"].get("after")}
            for e in evs if e["type"] == "scaling.acted" and e.get("subject") == SCALE_TIER]  # fmt: skip


def ramp(lab: Lab, policy: str, a: argparse.Namespace) -> dict[str, Any]:
    """From 2 instances, ``a.settle`` seconds at the base load with the policy acting (each policy enters the ramp
    from its own steady state), then triple the load over ``a.ramp``, hold ``a.hold``, back to the base for
    ``a.fall``; scaler = hx (``policy='hx'``) or the HPA loop here.  Only the ramp, hold and fall are measured."""
    tier = SCALE_TIER
    # the same target as hx's scaler in the lab (LabOptions.target_utilization)
    hpa = HpaPolicy(target=a.target, max_replicas=6, scale_down_window_s=a.scale_in_window)
    cursor = lab.last_cursor()
    lab.actuator.scale(tier, 2)
    s0 = time.time()
    t0 = s0 + a.settle
    inst_s, samples, actions = 0.0, [], []
    last, started, fell = t0, False, False
    while time.time() - t0 < a.ramp + a.hold + a.fall:
        time.sleep(2.0)
        now = time.time()
        if not started and now >= t0:
            lab.load(3.0, a.ramp)
            started, last = True, now
        if not fell and now - t0 >= a.ramp + a.hold:
            lab.load(1.0, 10.0)
            fell = True
        n = _instances(lab, tier)
        if started:
            inst_s += n * (now - last)
            last = now
            samples.append(n)
        util = _saturation(lab, tier) if policy == "hpa" else math.nan
        if policy == "hpa" and math.isfinite(util):
            want = hpa.decide(now - s0, n, util)
            if want != n:
                lab.actuator.scale(tier, want)
                actions.append({"t": round(now - t0, 1), "from": n, "to": want})
    rows = lab.load_stats(int(time.time() - t0) + 5, SLO_P95_S)["seconds"]
    window = [s for s in rows if s["t"] >= int(t0)]
    bad = set(slo_breaches(window)) | {s["t"] for s in window if s["failed"] > 0}
    return {
        "policy": policy,
        "instances_at_ramp_start": samples[0] if samples else None,
        "slo_violation_s": len(bad),
        "seconds": len(window),
        "requests": sum(s["sent"] for s in window),
        "dropped_by_the_generator": sum(s.get("dropped", 0) for s in window),
        "instance_s": round(inst_s, 1),
        "max_instances": max(samples, default=0),
        "failed_requests": sum(s["failed"] for s in window),
        "actions": actions if policy == "hpa" else _hx_actions(lab, cursor, t0),
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hx_cpu(lab: Lab, seconds: float = 60.0) -> dict[str, Any]:
    pid = lab.state.components["hx"].pid
    c0, t0 = cpu_seconds(pid), time.time()
    time.sleep(seconds)
    used = (cpu_seconds(pid) - c0) / (time.time() - t0)
    n = sum(_instances(lab, t) for t in ("frontend", "cart", "inventory"))
    return {"cpu_cores": round(used, 4), "instances": n, "cpu_per_instance": round(used / max(n, 1), 4)}


def set_scaler_mode(lab: Lab, mode: str) -> None:
    """Restart ``hx serve`` with the scaler acting or only recommending (same store, port and token)."""
    from hx.lab.fleet_lab import stop

    state = lab.state
    comp = state.components["hx"]
    stop(comp)
    base = [a for a in comp.argv if a != "serve"]
    base = base[: base.index("--port")] if "--port" in base else base
    argv = [*base, "--set", f"intelligent_monitoring.scaling.mode={mode}", "serve", "--port", str(state.ports["hx"])]
    start_hx(state, [a for a in argv if a], {"HX_HOME": str(state.path / "hx")})


def simulator_figures() -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        heal = json.loads((RESULTS / "heal.json").read_text())["summary"]
        out["heal_mttr_median_s"] = heal.get("mttr_median_s")
        scaling = json.loads((RESULTS / "scaling.json").read_text())
        out["scaling_nasa"] = [r for r in scaling["rows"] if r.get("trace") == "nasa"]
    except (OSError, KeyError, ValueError) as err:
        out["error"] = str(err)
    return out


def table(res: dict[str, Any]) -> str:
    b, k, sim = res["bad_rollout"], res["killed_instance"], res["simulator"]
    lines = [
        f"{'figure':<44}{'lab (real processes)':>24}{'simulator':>22}",
        f"{'bad rollout: detection -> rollback (s)':<44}{b['detection_to_rollback_s']!s:>24}{'-':>22}",
        f"{'bad rollout: share of requests served':<44}{b['bad_share']:>24.2%}{'-':>22}",
        f"{'killed instance: kill -> resolved (s)':<44}{k['kill_to_resolved_s']!s:>24}"
        f"{sim.get('heal_mttr_median_s')!s:>22}",
        f"{'killed instance: hx MTTR (s)':<44}{k['hx_mttr_s']!s:>24}{'':>22}",
    ]
    for r in res["ramp"]:
        lines.append(f"{'tripling, ' + r['policy'] + ': SLO-violation s / instance-s':<44}"
                     f"{str(r['slo_violation_s']) + ' / ' + str(r['instance_s']):>24}{'':>22}")  # fmt: skip
        lines.append(f"{'tripling, ' + r['policy'] + ': actions / max instances':<44}"
                     f"{str(len(r['actions'])) + ' / ' + str(r['max_instances']):>24}{'':>22}")  # fmt: skip
    c = res["hx_cpu"]
    lines.append(f"{'hx CPU per managed instance (cores)':<44}{c['cpu_per_instance']:>24}{'':>22}")
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--settle",
        type=float,
        default=90.0,
        help="seconds at the base load from 2 instances with the policy acting, before each ramp",
    )
    p.add_argument("--ramp", type=float, default=180.0, help="seconds over which the load triples")
    p.add_argument("--hold", type=float, default=90.0, help="seconds held at 3x")
    p.add_argument("--fall", type=float, default=120.0, help="seconds back at the base load (scale-in)")
    p.add_argument("--rps", type=float, default=20.0, help="base requests per second (times the NASA shape)")
    p.add_argument("--compression", type=float, default=24.0, help="trace seconds per second (24: a day an hour)")
    p.add_argument("--workers", type=int, default=2, help="inventory's worker pool per instance")
    p.add_argument("--service-ms", type=float, default=50.0, help="inventory's service time per request (waiting)")
    p.add_argument("--target", type=float, default=0.5, help="target utilisation of both scalers")
    p.add_argument("--scale-in-window", type=float, default=60.0, help="hx's scale-in window = HPA's down window")
    p.add_argument("--quick", action="store_true", help="the two ramps only, printed (lab.json is not written)")
    return p.parse_args(argv)


def options(a: argparse.Namespace) -> LabOptions:
    return LabOptions(rps=a.rps, compression=a.compression, workers=a.workers, service_ms=a.service_ms,
                      scale_in_window_s=a.scale_in_window, target_utilization=a.target,
                      data_dir=os.environ.get("HX_DATA_DIR", ""))  # fmt: skip


def ramps(lab: Lab, a: argparse.Namespace) -> list[dict[str, Any]]:
    """hx's scaler acting, then (hx only recommending) the HPA loop, each from 2 instances and its own settling."""
    out = [ramp(lab, "hx", a)]
    print("ramp hx:", out[-1])
    set_scaler_mode(lab, "recommend")
    out.append(ramp(lab, "hpa", a))
    print("ramp hpa:", out[-1])
    return out


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    root = Path(tempfile.mkdtemp(prefix="hx-bench-lab-"))
    t_start = time.time()
    state: LabState = up(root, options(a), log=print)
    try:
        lab = Lab(state)
        time.sleep(60)  # a minute of history for the judge and the scaler
        res: dict[str, Any] = {"benchmark": "lab", "date": datetime.now(UTC).isoformat(),
                               "machine": {"cpus": os.cpu_count(), "python": pyplatform.python_version(),
                                           "load_avg_at_start": os.getloadavg(),
                                           "note": "a machine shared with other jobs (several agents' builds and "
                                                   "tests): latencies include their load"},
                               "parameters": vars(a) | {"slo_p95_s": SLO_P95_S}}  # fmt: skip
        if not a.quick:
            res["bad_rollout"] = bad_rollout(lab)
            print("bad rollout:", res["bad_rollout"])
            res["killed_instance"] = killed_instance(lab)
            print("killed instance:", res["killed_instance"])
            res["hx_cpu"] = hx_cpu(lab)
        res["ramp"] = ramps(lab, a)
        res["machine"]["load_avg_at_end"] = os.getloadavg()
        res["simulator"] = simulator_figures()
        res["wall_s"] = round(time.time() - t_start, 1)
    finally:
        down(root, log=lambda _m: None)
    if a.quick:
        print(json.dumps(res["ramp"], indent=1))
        return 0
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lab.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    print(table(res))
    return 0 if not any(math.isnan(float(r["instance_s"])) for r in res["ramp"]) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Right-sizing a fleet under one exceed budget, against the VPA-style rule on the same history.

Sizing every workload alone to the same percentile spends the same risk on a flat workload (where a
few per cent more capacity buys nothing) as on a spiky one (where it buys a lot).  :func:`rightsize_fleet`
spreads one pooled budget (the share of all workload-intervals allowed above their level) over the
workloads with :func:`~hx.cost.rightsizing.allocate_risk`, for CPU and memory separately, and reports
beside it what the VPA-style rule (p90 x 1.15) would provision on the same history and how often each
would have been exceeded there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hx.cost.rightsizing import DAY_S, Prices, Recommendation, allocate_risk, exceed_rate
from hx.errors import BadInput

FloatArray = npt.NDArray[np.float64]

#: the reference rule: a percentile of the history with a margin (Kubernetes VPA's recommender in spirit)
VPA_PERCENTILE = 0.9
VPA_MARGIN = 0.15


@dataclass(frozen=True)
class WorkloadHistory:
    """One workload's usage: times (Unix s), vCPU and GiB used, and what it has now (if known)."""

    timestamps: FloatArray
    cpu: FloatArray
    memory_gib: FloatArray
    current_cpu: float | None = None
    current_memory_gib: float | None = None


@dataclass(frozen=True)
class FleetPlan:
    """Per-workload recommendations under one budget, and the fleet's totals against the VPA-style rule."""

    recommendations: list[Recommendation]
    risk_budget: float
    totals: dict[str, dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "risk_budget": self.risk_budget,
            "totals": self.totals,
            "recommendations": [r.to_dict() for r in self.recommendations],
        }


def vpa_level(values: FloatArray) -> float:
    """The VPA-style level of one history: its p90 times 1.15 (0 when it has no samples)."""
    ok = values[np.isfinite(values)]
    return float(np.quantile(ok, VPA_PERCENTILE) * (1.0 + VPA_MARGIN)) if ok.size else 0.0


def _resource(
    histories: list[FloatArray], times: list[FloatArray], budget: float, margin: float, half_life_s: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    alloc = allocate_risk(histories, budget, timestamps=times, margin=margin, half_life_s=half_life_s)
    ref = np.array([vpa_level(h) for h in histories])
    ours_ex = np.array([exceed_rate(h, lv) for h, lv in zip(histories, alloc.levels, strict=True)])
    ref_ex = np.array([exceed_rate(h, lv) for h, lv in zip(histories, ref, strict=True)])
    return alloc.levels, ours_ex, ref, ref_ex


def _pooled(histories: list[FloatArray], rates: FloatArray) -> float:
    n = np.array([np.isfinite(h).sum() for h in histories], dtype=float)
    return float((rates * n).sum() / max(n.sum(), 1.0))


def rightsize_fleet(
    workloads: Mapping[str, WorkloadHistory],
    risk_budget: float,
    *,
    prices: Prices | None = None,
    margin: float = 0.1,
    half_life_s: float = 14 * DAY_S,
) -> FleetPlan:
    """Levels for every workload minimising the fleet's total while the pooled exceed share meets the budget."""
    if not workloads:
        raise BadInput("no workloads to right-size", field="workloads")
    if not 0.0 < risk_budget < 0.5:
        raise BadInput(f"risk budget must be in (0, 0.5), got {risk_budget:g}", field="risk_budget")
    prices = prices or Prices()
    names = list(workloads)
    ws = [workloads[n] for n in names]
    times = [np.asarray(w.timestamps, dtype=np.float64) for w in ws]
    for name, w in zip(names, ws, strict=True):
        if not (np.isfinite(w.cpu).any() and np.isfinite(w.memory_gib).any()):
            raise BadInput(f"workload {name!r}: no CPU or no memory samples (all gaps)", field="workloads")
    cpu_h = [np.asarray(w.cpu, dtype=np.float64) for w in ws]
    mem_h = [np.asarray(w.memory_gib, dtype=np.float64) for w in ws]
    cpu, cpu_ex, cpu_ref, cpu_ref_ex = _resource(cpu_h, times, risk_budget, margin, half_life_s)
    mem, mem_ex, mem_ref, mem_ref_ex = _resource(mem_h, times, risk_budget, margin, half_life_s)
    recs = []
    for i, (name, w) in enumerate(zip(names, ws, strict=True)):
        cost = prices.monthly(float(cpu[i]), float(mem[i]))
        saving = None
        if w.current_cpu is not None and w.current_memory_gib is not None:
            saving = prices.monthly(w.current_cpu, w.current_memory_gib) - cost
        recs.append(
            Recommendation(
                workload=name,
                cpu=float(cpu[i]),
                memory_gib=float(mem[i]),
                current_cpu=w.current_cpu,
                current_memory_gib=w.current_memory_gib,
                monthly_cost_usd=cost,
                monthly_saving_usd=saving,
                cpu_risk=float(cpu_ex[i]),
                memory_risk=float(mem_ex[i]),
                basis={
                    "method": "fleet risk budget",
                    "risk_budget": risk_budget,
                    "margin": margin,
                    "vpa_cpu": float(cpu_ref[i]),
                    "vpa_memory_gib": float(mem_ref[i]),
                },
            )
        )
    totals = {
        "cpu": _totals(cpu, cpu_ex, cpu_ref, cpu_ref_ex, cpu_h),
        "memory_gib": _totals(mem, mem_ex, mem_ref, mem_ref_ex, mem_h),
    }
    return FleetPlan(recs, risk_budget, totals)


def _totals(
    ours: FloatArray, ours_ex: FloatArray, ref: FloatArray, ref_ex: FloatArray, histories: list[FloatArray]
) -> dict[str, float]:
    total, ref_total = float(ours.sum()), float(ref.sum())
    return {
        "hx": total,
        "vpa_p90x1.15": ref_total,
        "reduction_vs_vpa": 1.0 - total / ref_total if ref_total > 0 else 0.0,
        "exceed_hx": _pooled(histories, ours_ex),
        "exceed_vpa": _pooled(histories, ref_ex),
    }

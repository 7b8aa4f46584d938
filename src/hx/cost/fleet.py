"""Right-sizing a fleet under one exceed budget, against the VPA-style rule on the same history.

Sizing every workload alone to the same percentile spends the same risk on a flat workload (where a
few per cent more capacity buys nothing) as on a spiky one (where it buys a lot).  :func:`rightsize_fleet`
spreads one pooled budget (the share of all workload-intervals allowed above their level) over the
workloads with :func:`~hx.cost.rightsizing.allocate_risk`, for CPU and memory separately, and reports
beside it what the VPA-style rule (p90 x 1.15) would provision on the same history and how often each
would have been exceeded there.

Memory is spent like CPU by default, which concentrates the out-of-memory risk on the spiky workloads: every
workload whose memory is above it in more intervals than the budget carries a note, and the totals count the
workloads sized below their working set's peak over the last ``RECENT_PEAK_S``.  ``keep_memory_peaks=True``
holds every workload at least at that peak (the budget is spread over the levels above it); on the Bitbrains
VMs that costs about a third more memory and removes few judged out-of-memory intervals (README, Right-sizing).
Every level is rounded up and held at the floors (:func:`~hx.cost.rightsizing.settle_levels`).

What the budget bounds is the share of *learning* intervals above the level before the margin, weighted
towards recent ones as the allocator weighs them (``budget_used``, at most ``budget_allowed``: the budget given,
or less where the VPA cap held it); the exceed rates in ``totals`` are
counted on every interval of the history given (in-sample).  How often the levels would be exceeded on days
they were not learned from is the learn/judge check of :mod:`hx.cost.backtest`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from hx.cost.rightsizing import DAY_S, Prices, Recommendation, allocate_risk, exceed_rate, recent_peak, settle_levels
from hx.errors import BadInput

FloatArray = npt.NDArray[np.float64]

#: the reference rule: a percentile of the history with a margin (Kubernetes VPA's recommender in spirit)
VPA_PERCENTILE = 0.9
VPA_MARGIN = 0.15
#: the fleet allocation's safety margin and the half-life of its sample weights
FLEET_MARGIN = 0.1
FLEET_HALF_LIFE_S = 14 * DAY_S
#: bisection steps of the VPA cap on the budget (the budget found is within budget / 2**CAP_STEPS of the largest)
CAP_STEPS = 12
#: the share of one workload's intervals above its level that the totals count as a workload at risk (and the
#: per-workload memory cap allows): what a plain p90 leaves above it
TAIL_SHARE = round(1.0 - VPA_PERCENTILE, 9)


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


class Levels(NamedTuple):
    """One resource's levels under the budget, the share the budget bounds (``budget_used`` in the totals), and the
    budget the allocator was allowed (``budget_allowed``: the one given, or less when the VPA cap held it)."""

    levels: FloatArray
    share: float
    budget: float


def fleet_levels(
    resource: str,
    histories: list[FloatArray],
    times: list[FloatArray],
    budget: float,
    *,
    margin: float = FLEET_MARGIN,
    half_life_s: float = FLEET_HALF_LIFE_S,
    floors: bool = True,
    keep_memory_peaks: bool = False,
    vpa_cap: bool = True,
    memory_cap: bool = False,
) -> Levels:
    """One resource's levels under the budget (``"cpu"`` or ``"memory"``).

    ``floors=False`` leaves out the rounding and the minimums (the allocation alone, as the bench judges it);
    ``keep_memory_peaks``: no memory level below the working set's recent peak.  ``vpa_cap``: the budget is spent
    only as far as the levels are exceeded, on these histories, no more often than the VPA-style rule's
    (:func:`vpa_level`): when the budget would go further, the largest budget that does not is found by
    bisection (a budget of 0 sizes every workload to its peak, which is never exceeded).  The comparison the
    fleet is judged by -- less capacity at no higher exceed rate -- then holds on the history by construction.
    ``memory_cap``: no workload's memory is above its level, on these histories, in more than
    :data:`TAIL_SHARE` of its intervals (a plain p90's share), or the budget where that is more
    (:func:`memory_floor`): the pooled budget may then not buy the fleet's saving with a few workloads'
    out-of-memory kills.  Off by default: on the Bitbrains VMs it takes nearly all of the memory saving
    (README, Right-sizing), which is how much of that saving comes from the spiky workloads.
    """
    peaks = None
    if resource == "memory" and (keep_memory_peaks or memory_cap):
        peaks = [
            max(recent_peak(t, h) if keep_memory_peaks else 0.0, memory_floor(h, budget) if memory_cap else 0.0)
            for t, h in zip(times, histories, strict=True)
        ]

    def at(b: float) -> Levels:
        alloc = allocate_risk(histories, b, timestamps=times, margin=margin, half_life_s=half_life_s, floors=peaks)
        return Levels(settle_levels(alloc.levels, resource) if floors else alloc.levels, alloc.pooled_exceed, b)

    first = at(budget)
    if not vpa_cap:
        return first
    limit = pooled(histories, np.array([vpa_level(h) for h in histories]))
    if pooled(histories, first.levels) <= limit:
        return first
    lo, hi, best = 0.0, budget, None
    for _ in range(CAP_STEPS):
        mid = 0.5 * (lo + hi)
        got = at(mid)
        if pooled(histories, got.levels) <= limit:
            lo, best = mid, got
        else:
            hi = mid
    return best if best is not None else at(0.0)


def memory_floor(values: FloatArray, budget: float) -> float:
    """The lowest level one workload's memory may be given under the per-workload cap: the level it is above in
    no more than :data:`TAIL_SHARE` of its intervals, or ``budget`` where that is more.

    >>> h = np.r_[np.full(80, 1.0), np.full(20, 8.0)]   # a workload at 8 GiB a fifth of the time
    >>> memory_floor(h, 0.04)                         # the budget may not size it at 1 GiB
    8.0
    """
    ok = values[np.isfinite(values)]
    if ok.size == 0:
        return 0.0
    allowed = max(TAIL_SHARE, budget)
    return float(np.quantile(ok, 1.0 - allowed, method="higher"))


def workloads_over(histories: list[FloatArray], levels: FloatArray, share: float = TAIL_SHARE) -> int:
    """How many workloads are above their level in more than ``share`` of their real intervals.

    >>> workloads_over([np.arange(10.0), np.arange(10.0)], np.array([8.5, 5.0]))
    1
    """
    return int(sum(exceed_rate(h, float(lv)) > share for h, lv in zip(histories, levels, strict=True)))


def pooled(histories: list[FloatArray], levels: FloatArray) -> float:
    """The share of all real intervals of all histories above their workload's level."""
    over = sum(int((h[np.isfinite(h)] > lv).sum()) for h, lv in zip(histories, levels, strict=True))
    n = sum(int(np.isfinite(h).sum()) for h in histories)
    return over / max(n, 1)


def rightsize_fleet(
    workloads: Mapping[str, WorkloadHistory],
    risk_budget: float,
    *,
    prices: Prices | None = None,
    margin: float = FLEET_MARGIN,
    half_life_s: float = FLEET_HALF_LIFE_S,
    keep_memory_peaks: bool = False,
    vpa_cap: bool = True,
    memory_cap: bool = False,
) -> FleetPlan:
    """Levels for every workload minimising the fleet's total while the pooled exceed share meets the budget
    (``keep_memory_peaks``: no memory below the working set's recent peak; ``vpa_cap``, ``memory_cap``: see
    :func:`fleet_levels`)."""
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
    hist = {
        "cpu": [np.asarray(w.cpu, dtype=np.float64) for w in ws],
        "memory": [np.asarray(w.memory_gib, dtype=np.float64) for w in ws],
    }
    levels, totals = {}, {}
    for res, h in hist.items():
        got = fleet_levels(
            res,
            h,
            times,
            risk_budget,
            margin=margin,
            half_life_s=half_life_s,
            keep_memory_peaks=keep_memory_peaks,
            vpa_cap=vpa_cap,
            memory_cap=memory_cap,
        )
        levels[res] = got.levels
        totals["memory_gib" if res == "memory" else res] = _totals(h, got.levels, got.share) | {
            "budget_allowed": got.budget
        }
    peaks = np.array([recent_peak(t, h) for t, h in zip(times, hist["memory"], strict=True)])
    totals["memory_gib"]["below_recent_peak"] = int((levels["memory"] < peaks).sum())
    recs = [
        _recommendation(name, w, i, levels, hist, prices, risk_budget, margin)
        for i, (name, w) in enumerate(zip(names, ws, strict=True))
    ]
    return FleetPlan(recs, risk_budget, totals)


def _recommendation(
    name: str,
    w: WorkloadHistory,
    i: int,
    levels: dict[str, FloatArray],
    hist: dict[str, list[FloatArray]],
    prices: Prices,
    budget: float,
    margin: float,
) -> Recommendation:
    cpu, mem = float(levels["cpu"][i]), float(levels["memory"][i])
    cost = prices.monthly(cpu, mem)
    saving = None
    if w.current_cpu is not None and w.current_memory_gib is not None:
        saving = prices.monthly(w.current_cpu, w.current_memory_gib) - cost
    cpu_risk, mem_risk = exceed_rate(hist["cpu"][i], cpu), exceed_rate(hist["memory"][i], mem)
    return Recommendation(
        workload=name,
        cpu=cpu,
        memory_gib=mem,
        current_cpu=w.current_cpu,
        current_memory_gib=w.current_memory_gib,
        monthly_cost_usd=cost,
        monthly_saving_usd=saving,
        cpu_risk=cpu_risk,
        memory_risk=mem_risk,
        basis={
            "method": "fleet risk budget",
            "risk_budget": budget,
            "margin": margin,
            "vpa_cpu": vpa_level(hist["cpu"][i]),
            "vpa_memory_gib": vpa_level(hist["memory"][i]),
        },
        notes=risk_notes(cpu_risk, mem_risk, budget),
    )


def risk_notes(cpu_risk: float, memory_risk: float, budget: float) -> tuple[str, ...]:
    """Notes for the risks above ``budget``.

    >>> for note in risk_notes(0.131, 0.092, 0.04):
    ...     print(note)
    CPU above it in 13.1 % of intervals, over the 4.0 % budget
    memory above it (out of memory) in 9.2 % of intervals, over the 4.0 % budget
    """
    notes = []
    for what, risk in (("CPU above it", cpu_risk), ("memory above it (out of memory)", memory_risk)):
        if risk > budget:
            notes.append(f"{what} in {100 * risk:.1f} % of intervals, over the {100 * budget:.1f} % budget")
    return tuple(notes)


def _totals(histories: list[FloatArray], levels: FloatArray, budget_used: float) -> dict[str, float]:
    ref = np.array([vpa_level(h) for h in histories])
    total, ref_total = float(levels.sum()), float(ref.sum())
    return {
        "hx": total,
        "vpa_p90x1.15": ref_total,
        "reduction_vs_vpa": 1.0 - total / ref_total if ref_total > 0 else 0.0,
        "exceed_hx": pooled(histories, levels),
        "exceed_vpa": pooled(histories, ref),
        "budget_used": budget_used,
        "workloads_over_tail_hx": workloads_over(histories, levels),
        "workloads_over_tail_vpa": workloads_over(histories, ref),
    }

"""What ``hx cost rightsize`` reports: recommendations, the workloads skipped and why, and the fleet's check.

:func:`rightsize_report` lays every workload on one grid (:func:`~hx.cost.history.common_grid`: duplicate rows
averaged, as ``bench/rightsizing.py`` does), skips those with too little usable history
(:func:`~hx.cost.history.screen`), notes those made from a small share of their rows, recommends the rest (alone,
or under one fleet budget), and for a fleet adds the learn/judge check (:mod:`hx.cost.backtest`) beside the
in-sample totals, with a warning wherever hx is exceeded more often than the VPA-style rule or than its budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from hx.cost.backtest import TARGET_REDUCTION, backtest
from hx.cost.fleet import FLEET_MARGIN, WorkloadHistory, rightsize_fleet, risk_notes
from hx.cost.history import (
    Grid,
    Skipped,
    beyond_capacity,
    capacity_note,
    common_grid,
    screen,
    share_note,
)
from hx.cost.rightsizing import Prices, Recommendation, recommend
from hx.errors import BadInput
from hx.readers import repeat_note

#: what the fleet's risk budget bounds, in the words the report uses
BUDGET_MEANING = (
    "the share of learning intervals (weighted towards recent ones) above the level before the "
    f"{FLEET_MARGIN:.0%} margin, averaged over workloads"
)
_NAMES = {"cpu": "CPU", "memory_gib": "memory"}


@dataclass(frozen=True)
class Report:
    """Recommendations, the workloads skipped (with why) and, for a fleet, its totals and learn/judge check."""

    recommendations: list[Recommendation]
    skipped: list[Skipped]
    fleet: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "recommendations": [r.to_dict() for r in self.recommendations],
            "skipped": [s.to_dict() for s in self.skipped],
            "fleet": self.fleet,
        }


def rightsize_report(
    workloads: Mapping[str, WorkloadHistory],
    files: Mapping[str, str],
    *,
    skipped: list[Skipped] | None = None,
    fleet: bool = False,
    risk_budget: float = 0.04,
    prices: Prices | None = None,
    keep_memory_peaks: bool = False,
    vpa_cap: bool = True,
    memory_cap: bool = False,
    field: str = "path",
) -> Report:
    """Recommend every workload with enough history; ``files`` names each workload's file.

    Raises :class:`~hx.errors.BadInput` when no workload can be recommended, naming each one and why (and
    ``field``, where they were given: the CLI's ``path``, the API's ``workloads``).
    """
    skipped = list(skipped or [])
    for name, w in list(workloads.items()):  # one time (a row, or rows at one time) has no step to lay out
        distinct = np.unique(np.asarray(w.timestamps, dtype=np.float64)[np.isfinite(w.timestamps)])
        if distinct.size < 2:
            rows = int(np.asarray(w.cpu).size)
            skipped.append(Skipped(name, files[name], f"{rows} row(s) at {distinct.size} distinct time(s): too few "
                                   "to size from (two days of intervals are needed)", rows=rows))  # fmt: skip
            workloads = {k: v for k, v in workloads.items() if k != name}
    if not workloads:
        raise BadInput(_nothing(skipped), field=field)
    times = [np.asarray(w.timestamps, dtype=np.float64) for w in workloads.values()]
    sampled = [
        t[np.isfinite(w.cpu) & np.isfinite(w.memory_gib)] for t, w in zip(times, workloads.values(), strict=True)
    ]
    grid = common_grid(times, [u for u in sampled if u.size > 1] or None)
    laid, notes = {}, {}
    for name, w in workloads.items():
        g = replace(
            w,
            timestamps=grid.times,
            cpu=grid.place(w.timestamps, w.cpu),
            memory_gib=grid.place(w.timestamps, w.memory_gib),
        )
        skip = screen(name, files[name], grid, g.cpu, g.memory_gib, int(np.asarray(w.cpu).size)) or beyond_capacity(
            name, files[name], np.asarray(w.cpu, dtype=np.float64), np.asarray(w.memory_gib, dtype=np.float64),
            w.current_cpu, w.current_memory_gib,
        )  # fmt: skip
        if skip is not None:
            skipped.append(skip)
            continue
        laid[name] = g
        usable = int((np.isfinite(w.cpu) & np.isfinite(w.memory_gib)).sum())
        cap = capacity_note(np.asarray(w.cpu, dtype=np.float64), np.asarray(w.memory_gib, dtype=np.float64),
                            w.current_cpu, w.current_memory_gib)  # fmt: skip
        rows = int(np.asarray(w.cpu).size)
        notes[name] = tuple(n for n in (share_note(usable, rows), repeat_note(w.timestamps), cap) if n)
    if not laid:
        raise BadInput(_nothing(skipped), field=field)
    if fleet:
        options = (keep_memory_peaks, vpa_cap, memory_cap)
        plan = rightsize_fleet(
            laid, risk_budget, prices=prices, keep_memory_peaks=keep_memory_peaks, vpa_cap=vpa_cap,
            memory_cap=memory_cap,
        )  # fmt: skip
        recs = plan.recommendations
        report: dict[str, Any] | None = _fleet(grid, laid, plan.totals, risk_budget, options)
    else:
        recs = [_alone(name, w, prices, risk_budget) for name, w in laid.items()]
        report = None
    recs = [replace(r, notes=notes[r.workload] + r.notes) for r in recs]
    return Report(recs, skipped, report)


def _alone(name: str, w: WorkloadHistory, prices: Prices | None, budget: float) -> Recommendation:
    r = recommend(
        name,
        w.timestamps,
        w.cpu,
        w.memory_gib,
        current_cpu=w.current_cpu,
        current_memory_gib=w.current_memory_gib,
        prices=prices,
    )
    return replace(r, notes=risk_notes(r.cpu_risk, r.memory_risk, budget))


def _nothing(skipped: list[Skipped]) -> str:
    why = "; ".join(f"{s.file}{f' ({s.workload})' if s.workload else ''}: {s.reason}" for s in skipped)
    return f"no workload could be right-sized: {why or 'no usage given'}"


def _fleet(
    grid: Grid,
    laid: Mapping[str, WorkloadHistory],
    totals: dict[str, dict[str, float]],
    budget: float,
    options: tuple[bool, bool, bool],
) -> dict[str, Any]:
    keep, vpa_cap, memory_cap = options
    names = list(laid)
    cpu, memory = [laid[n].cpu for n in names], [laid[n].memory_gib for n in names]
    check = backtest(
        grid, names, cpu, memory, budget, keep_memory_peaks=keep, vpa_cap=vpa_cap, memory_cap=memory_cap
    ).to_dict()
    return {
        "risk_budget": budget,
        "risk_budget_bounds": BUDGET_MEANING,
        "vpa_cap": vpa_cap,
        "keep_memory_peaks": keep,
        "memory_cap": memory_cap,
        "in_sample": totals,
        "learn_judge": check,
        "warnings": warnings(totals, check, budget),
    }


def warnings(in_sample: dict[str, dict[str, Any]], check: dict[str, Any], budget: float) -> list[str]:
    """Where hx is exceeded more often than the VPA-style rule or its budget, and whether the target is met."""
    out = []
    for res, name in _NAMES.items():
        t, j = in_sample[res], check.get(res) or {}
        if t["exceed_hx"] > t["exceed_vpa"]:
            out.append(
                f"{name}: on the history it was learned from (in-sample) hx is exceeded in {t['exceed_hx']:.2%} of "
                f"intervals, MORE often than the VPA-style rule ({t['exceed_vpa']:.2%})"
            )
        if not j:
            out.append(f"{name}: no workload has a day of samples both to learn from and to judge on: no check")
            continue
        if j["exceed_hx"] > j["exceed_vpa"]:
            out.append(
                f"{name}: on the judged days hx is exceeded in {j['exceed_hx']:.2%} of intervals, MORE often than "
                f"the VPA-style rule ({j['exceed_vpa']:.2%})"
            )
        if j["exceed_hx"] > budget:
            out.append(
                f"{name}: on the judged days (not learned from) hx is exceeded in {j['exceed_hx']:.2%} of intervals, "
                f"above the {budget:.1%} budget, which bounds the learning intervals"
            )
        if not j["target_met"]:
            less = j["reduction_vs_vpa"]
            than = f"{less:.1%} less than" if less >= 0 else f"{-less:.1%} more than"
            out.append(
                f"{name}: target NOT met on the judged days: {than} the VPA-style rule "
                f"(need >= {TARGET_REDUCTION:.0%} less) at {j['exceed_hx']:.2%} exceeded vs {j['exceed_vpa']:.2%}"
            )
    return out

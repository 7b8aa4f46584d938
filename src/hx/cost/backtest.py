"""The learn/judge check of a fleet plan, with the definitions of ``bench/rightsizing.py``.

Every workload is on one grid (:class:`~hx.cost.history.Grid`).  The first ``LEARN_SHARE`` of the grid's
intervals (21 of the 30 days of the Bitbrains trace) is learned from, the rest is judged.  A workload is judged
only with at least ``MIN_SIDE_S`` (a day) of CPU and of memory samples in each part.  On the judged workloads,
per resource:

- **VPA-style rule**: p90 of the learning samples x 1.15;
- **hx**: :func:`~hx.cost.fleet.fleet_levels` under the budget, learned on the learning part;
- **exceed**: the share of all judged intervals (pooled over workloads) whose usage is above the level.

The target is at least ``TARGET_REDUCTION`` (20 %) less capacity than the VPA-style rule at an exceed rate no
higher than the rule's, for CPU and for memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hx.cost.fleet import fleet_levels, pooled, vpa_level, workloads_over
from hx.cost.history import Grid
from hx.cost.rightsizing import DAY_S

FloatArray = npt.NDArray[np.float64]

#: the share of the grid learned from; the rest is judged (21 of 30 days, as in bench/rightsizing.py)
LEARN_SHARE = 0.7
#: the least of each resource's samples a workload needs in each part to be judged
MIN_SIDE_S = DAY_S
#: the project's target: this much less capacity than the VPA-style rule at no higher exceed rate
TARGET_REDUCTION = 0.20


@dataclass(frozen=True)
class Backtest:
    """The learn/judge check: per resource, hx against the VPA-style rule on the judged days."""

    learn_days: float
    judge_days: float
    judged: list[str]
    excluded: dict[str, str]
    results: dict[str, dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "learn_days": self.learn_days,
            "judge_days": self.judge_days,
            "workloads_judged": len(self.judged),
            "excluded": self.excluded,
            **self.results,
        }


def _why_not(grid: Grid, split: int, cpu: FloatArray, mem: FloatArray) -> str | None:
    need = grid.intervals(MIN_SIDE_S)
    for part, sl in (("learning", slice(None, split)), ("judging", slice(split, None))):
        if min(int(np.isfinite(cpu[sl]).sum()), int(np.isfinite(mem[sl]).sum())) < need:
            return f"less than a day of samples while {part}"
    return None


def backtest(
    grid: Grid,
    names: Sequence[str],
    cpu: Sequence[FloatArray],
    memory: Sequence[FloatArray],
    risk_budget: float,
    *,
    floors: bool = True,
    keep_memory_peaks: bool = False,
    vpa_cap: bool = True,
    memory_cap: bool = False,
) -> Backtest:
    """Learn on the first ``LEARN_SHARE`` of ``grid``, judge on the rest (histories given on ``grid``).

    ``floors=False`` judges the allocation alone, as ``bench/rightsizing.py`` does (no rounding, no minimums);
    ``keep_memory_peaks``, ``vpa_cap`` and ``memory_cap`` as in :func:`~hx.cost.fleet.rightsize_fleet` (the VPA cap
    compares with the VPA-style rule on the learning part only).
    """
    split = int(LEARN_SHARE * grid.n)
    excluded: dict[str, str] = {}
    keep = []
    for i, name in enumerate(names):
        why = _why_not(grid, split, cpu[i], memory[i])
        if why is None:
            keep.append(i)
        else:
            excluded[name] = why
    results: dict[str, dict[str, Any]] = {}
    learn_t = grid.times[:split]
    for res, arr in (("cpu", cpu), ("memory_gib", memory)):
        learn = [arr[i][:split] for i in keep]
        judge = [arr[i][split:] for i in keep]
        results[res] = (
            _judge(res, learn, judge, learn_t, risk_budget, floors, (keep_memory_peaks, vpa_cap, memory_cap))
            if keep
            else {}
        )
    return Backtest(
        learn_days=split * grid.step_s / DAY_S,
        judge_days=(grid.n - split) * grid.step_s / DAY_S,
        judged=[names[i] for i in keep],
        excluded=excluded,
        results=results,
    )


def _judge(
    res: str,
    learn: list[FloatArray],
    judge: list[FloatArray],
    learn_t: FloatArray,
    budget: float,
    floors: bool,
    options: tuple[bool, bool, bool],
) -> dict[str, Any]:
    """One resource's learn/judge figures; ``options``: (keep_memory_peaks, vpa_cap, memory_cap)."""
    keep_peaks, vpa_cap, memory_cap = options
    resource = "cpu" if res == "cpu" else "memory"
    times = [learn_t] * len(learn)
    ours, share, spent = fleet_levels(
        resource, learn, times, budget, floors=floors, keep_memory_peaks=keep_peaks, vpa_cap=vpa_cap,
        memory_cap=memory_cap,
    )  # fmt: skip
    ref = np.array([vpa_level(h) for h in learn])
    total, ref_total = float(ours.sum()), float(ref.sum())
    less = 1.0 - total / ref_total if ref_total > 0 else 0.0
    ex, ref_ex = pooled(judge, ours), pooled(judge, ref)
    return {
        "hx": total,
        "vpa_p90x1.15": ref_total,
        "reduction_vs_vpa": less,
        "exceed_hx": ex,
        "exceed_vpa": ref_ex,
        "exceed_hx_learning": pooled(learn, ours),
        "budget_used": share,
        "budget_allowed": spent,
        "workloads_over_tail_hx": workloads_over(judge, ours),
        "workloads_over_tail_vpa": workloads_over(judge, ref),
        "target_met": bool(less >= TARGET_REDUCTION and ex <= ref_ex),
    }

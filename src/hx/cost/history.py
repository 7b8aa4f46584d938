"""Usable history: workloads laid on one time grid, the least history a recommendation is made from, and why
a workload was skipped.

A recommendation needs ``MIN_HISTORY_S`` (two days) of intervals with both a CPU and a memory sample: a day
to learn from and a day to judge on in the learn/judge check (:mod:`hx.cost.backtest`), and the span at which
the hour-of-day cycles of :func:`~hx.cost.rightsizing.target_level` are read.  Rows without a sample (a
Bitbrains row at zero capacity, a blank cell) do not count.  A workload with fewer is skipped, with the
reason; one whose usable rows are under ``LOW_SHARE`` of its rows is recommended with a note.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from hx.cost.rightsizing import DAY_S
from hx.errors import BadInput

FloatArray = npt.NDArray[np.float64]

#: the least usable history a recommendation is made from (a day to learn, a day to judge)
MIN_HISTORY_S = 2 * DAY_S
#: below this share of usable rows, a recommendation carries a note
LOW_SHARE = 0.5
#: the most grid cells (intervals x workloads) laid out in memory
MAX_CELLS = 50_000_000


def nominal_step(ts: FloatArray) -> float:
    """The typical spacing of a workload's samples: the median gap between distinct times (s).

    >>> nominal_step(np.array([0.0, 300.0, 300.0, 600.0, 960.0]))
    300.0
    """
    gaps = np.diff(np.unique(ts[np.isfinite(ts)]))
    return float(np.median(gaps)) if gaps.size else 0.0


@dataclass(frozen=True)
class Grid:
    """One time grid for a fleet: ``n`` intervals of ``step_s`` seconds from ``t0``."""

    t0: float
    step_s: float
    n: int

    @property
    def times(self) -> FloatArray:
        return self.t0 + self.step_s * np.arange(self.n, dtype=np.float64)

    def place(self, ts: FloatArray, values: FloatArray) -> FloatArray:
        """Samples on the grid: the mean of each interval's real samples, NaN where it has none.

        >>> Grid(0.0, 300.0, 3).place(np.array([0.0, 100.0, 650.0]), np.array([1.0, 3.0, np.nan])).tolist()
        [2.0, nan, nan]
        """
        ok = np.isfinite(ts) & np.isfinite(values)
        idx = np.clip(((ts[ok] - self.t0) // self.step_s).astype(np.int64), 0, self.n - 1)
        total = np.bincount(idx, values[ok], minlength=self.n)
        count = np.bincount(idx, minlength=self.n)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def intervals(self, seconds: float) -> int:
        """How many intervals make ``seconds``."""
        return math.ceil(seconds / self.step_s - 1e-9)


def common_grid(timestamps: Sequence[FloatArray], usable: Sequence[FloatArray] | None = None) -> Grid:
    """The grid every workload is laid on: the median of their steps, from the first row to the last.

    ``usable``: the times of each workload's usable rows, to read the steps from (rows without a sample are
    often irregular: a Bitbrains VM at zero capacity reports every two minutes or so).
    """
    steps = [s for s in (nominal_step(t) for t in (usable or timestamps)) if s > 0]
    if not steps:
        raise BadInput("the usage history has no two distinct times: cannot tell its step", field="timestamps")
    step = float(np.median(steps))
    t0 = math.floor(min(float(np.nanmin(t)) for t in timestamps if t.size) / step) * step
    t1 = max(float(np.nanmax(t)) for t in timestamps if t.size)
    n = int((t1 - t0) // step) + 1
    if n * len(timestamps) > MAX_CELLS:
        raise BadInput(
            f"{len(timestamps)} workloads over {(t1 - t0) / DAY_S:.0f} days at a {step:g} s step are "
            f"{n * len(timestamps):,} intervals, more than {MAX_CELLS:,}: give fewer or coarser files",
            field="timestamps",
        )
    return Grid(t0, step, n)


@dataclass(frozen=True)
class Skipped:
    """A workload (or a file) that got no recommendation, and why."""

    workload: str | None
    file: str
    reason: str
    usable_intervals: int | None = None
    needed_intervals: int | None = None
    rows: int | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _s(n: int) -> str:
    """The plural ending for ``n`` things."""
    return "" if n == 1 else "s"


def screen(name: str, file: str, grid: Grid, cpu: FloatArray, memory: FloatArray, rows: int) -> Skipped | None:
    """``Skipped`` when a workload (CPU and memory on ``grid``) has less than ``MIN_HISTORY_S`` to learn from."""
    usable = int((np.isfinite(cpu) & np.isfinite(memory)).sum())
    need = grid.intervals(MIN_HISTORY_S)
    if usable >= need:
        return None
    return Skipped(
        name,
        file,
        f"{usable:,} usable {grid.step_s:g} s interval{_s(usable)} (rows with both a CPU and a memory sample) of "
        f"{rows:,} row{_s(rows)}; a recommendation needs at least {need:,} ({MIN_HISTORY_S / DAY_S:g} days)",
        usable,
        need,
        rows,
    )


#: usage peaking this many times over what a workload has now is a unit error, not a workload: memory in KB, MB
#: or bytes read as GiB is 10^3-10^9 x (the Bitbrains VMs' memory peaks reach 6.3 x their provisioned memory, their
#: CPU 1.3 x; a Kubernetes pod may well use 10 x its request, so that is only a note: :data:`NOTE_RATIO`)
UNIT_RATIO = 100.0
#: usage peaking this many times over the current capacity is noted beside the recommendation: check the units
NOTE_RATIO = 10.0


def peak_ratios(cpu: FloatArray, memory: FloatArray, current_cpu: float | None,
                current_memory: float | None) -> list[tuple[str, str, float, float, float]]:  # fmt: skip
    """``(column, unit, peak, peak / current, current)`` for each resource with a current capacity and usage.

    >>> peak_ratios(np.array([0.5, np.nan, 1.0]), np.array([4.0]), 2.0, None)
    [('cpu', 'vCPU', 1.0, 0.5, 2.0)]
    """
    out = []
    for what, unit, used, now in (("cpu", "vCPU", cpu, current_cpu), ("memory_gib", "GiB", memory, current_memory)):
        finite = used[np.isfinite(used)]
        if now is not None and now > 0 and finite.size:
            peak = float(finite.max())
            out.append((what, unit, peak, peak / now, float(now)))
    return out


def beyond_capacity(name: str, file: str, cpu: FloatArray, memory: FloatArray, current_cpu: float | None,
                    current_memory: float | None) -> Skipped | None:  # fmt: skip
    """``Skipped`` when a workload's usage peaks more than :data:`UNIT_RATIO` times over its current capacity, or,
    with no current capacity to compare with, beyond any machine (:data:`LARGEST_VCPU`, :data:`LARGEST_GIB`).

    >>> beyond_capacity("vm1", "vm1.csv", np.array([0.5, 1.0]), np.array([1.0, 2e6]), 2.0, 8.0).reason
    'memory_gib peaks at 2e+06, 2.5e+05 x its current 8: check the units (cpu in vCPU, memory_gib in GiB)'
    """
    for what, _, peak, ratio, now in peak_ratios(cpu, memory, current_cpu, current_memory):
        if ratio > UNIT_RATIO:
            return Skipped(
                name, file, f"{what} peaks at {peak:.3g}, {ratio:.3g} x its current {now:g}: check the units "
                "(cpu in vCPU, memory_gib in GiB)",
            )  # fmt: skip
    for what, used, most, size in (("cpu", cpu, LARGEST_VCPU, current_cpu),
                                   ("memory_gib", memory, LARGEST_GIB, current_memory)):  # fmt: skip
        finite = used[np.isfinite(used)]  # with a current size the ratio above judges (an aggregate may be huge)
        if (size is None or size <= 0) and finite.size and float(finite.max()) > most:
            return Skipped(
                name, file, f"{what} peaks at {float(finite.max()):.3g}, more than any machine a cloud rents "
                f"({most:g}): check the units (cpu in vCPU, memory_gib in GiB)",
            )  # fmt: skip
    return None


#: more than the largest machines AWS, Azure and GCP rent (896 vCPU, 24 TiB in 2026), with room: a unit error
LARGEST_VCPU = 2048.0
LARGEST_GIB = 32768.0


def capacity_note(cpu: FloatArray, memory: FloatArray, current_cpu: float | None,
                  current_memory: float | None) -> str | None:  # fmt: skip
    """A note when usage peaks :data:`NOTE_RATIO` times or more over the current capacity (a pod far over its
    request, or a unit error under :data:`UNIT_RATIO`).

    >>> capacity_note(np.array([0.5, 27.7]), np.array([1.0, 2.0]), 2.0, 8.0)
    'cpu peaks at 13.8 x its current 2: if that is not a pod far over its request, check the units (cpu in vCPU)'
    """
    for what, unit, _, ratio, now in peak_ratios(cpu, memory, current_cpu, current_memory):
        if ratio >= NOTE_RATIO:
            return (
                f"{what} peaks at {ratio:.3g} x its current {now:g}: if that is not a pod far over its request, "
                f"check the units ({what} in {unit})"
            )
    return None


def share_note(usable_rows: int, rows: int) -> str | None:
    """A note when a workload's usable rows are under ``LOW_SHARE`` of its rows.

    >>> share_note(1260, 23007)
    'made from 1,260 of its 23,007 rows (5.5 %): the others have no CPU or memory sample (zero capacity or blank)'
    """
    if rows <= 0 or usable_rows >= LOW_SHARE * rows:
        return None
    return (
        f"made from {usable_rows:,} of its {rows:,} rows ({100 * usable_rows / rows:.1f} %): the others have no "
        "CPU or memory sample (zero capacity or blank)"
    )

"""Pieces every SignalSource shares: the step grid, alignment onto it, time conversion.

A range read over [start, end] at ``step`` seconds is evaluated at ``start, start+step, ...`` up to
``end`` (the points a Prometheus range query evaluates at).  Samples are put on the grid point
nearest to them, within half a step; a grid point with no sample is NaN, never a made-up value.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from hx.errors import BadInput
from hx.telemetry.base import FloatArray

if TYPE_CHECKING:
    from hx.config import Settings

#: The most points one read may ask for (a guard against a step of 1 s over a year).
MAX_POINTS = 1_000_000


def signal_step_s(settings: Settings) -> float:
    """The step of the signal grid the engines read: the simulator's own step, else ``telemetry.step_s``.

    >>> from hx.config import load_settings
    >>> s = load_settings(environ={}, overrides={"telemetry.source": "prometheus"}).settings
    >>> signal_step_s(s)
    60.0
    """
    return float(settings.sim.step_s) if settings.telemetry.source == "sim" else float(settings.telemetry.step_s)


def to_unix(when: datetime, *, field: str = "time") -> float:
    """Unix seconds of a timezone-aware datetime; a naive one is refused rather than guessed.

    >>> from datetime import UTC
    >>> to_unix(datetime(1970, 1, 1, 0, 1, tzinfo=UTC))
    60.0
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise BadInput(f"{field} {when.isoformat()} has no timezone; pass a timezone-aware datetime", field=field)
    return when.timestamp()


def step_grid(start: float, end: float, step: float) -> FloatArray:
    """The grid ``start, start+step, ...`` up to and including ``end``, in whole milliseconds.

    Times and the step are rounded to the millisecond first, as Prometheus does, so the grid is
    exactly the one a range query evaluates at.

    >>> step_grid(0.0, 120.0, 60.0).tolist()
    [0.0, 60.0, 120.0]
    >>> step_grid(0.0, 119.0, 60.0).tolist()
    [0.0, 60.0]
    """
    if not (math.isfinite(step) and step >= 0.001):
        raise BadInput(f"step must be at least 0.001 seconds, got {step!r}", field="step")
    if not (math.isfinite(start) and math.isfinite(end)) or end < start:
        raise BadInput(f"end ({end}) is before start ({start})", field="end")
    start_ms, end_ms, step_ms = round(start * 1000), round(end * 1000), round(step * 1000)
    n = (end_ms - start_ms) // step_ms + 1
    if n > MAX_POINTS:
        raise BadInput(
            f"{n} points requested ((end - start) / step); at most {MAX_POINTS}: use a larger step", field="step"
        )
    return (start_ms + step_ms * np.arange(n, dtype=np.int64)).astype(np.float64) / 1000.0


def align_to_grid(grid: FloatArray, step: float, timestamps: FloatArray, values: FloatArray) -> FloatArray:
    """Values on ``grid``: each point takes the sample nearest to it within half a step, else NaN.

    When several samples are nearest to one point the closest wins (the later one on a tie).

    >>> grid = step_grid(0.0, 180.0, 60.0)
    >>> align_to_grid(grid, 60.0, np.array([1.0, 59.0, 185.0]), np.array([1.0, 2.0, 4.0])).tolist()
    [1.0, 2.0, nan, 4.0]
    """
    out = np.full(grid.shape, np.nan, dtype=np.float64)
    if grid.size == 0 or timestamps.size == 0:
        return out
    ts = np.asarray(timestamps, dtype=np.float64)
    vs = np.asarray(values, dtype=np.float64)
    idx = np.rint((ts - grid[0]) / step).astype(np.int64)
    inside = (idx >= 0) & (idx < grid.size)
    ts, vs, idx = ts[inside], vs[inside], idx[inside]
    dist = np.abs(ts - grid[idx])
    near = dist <= step / 2 + 1e-9
    ts, vs, idx, dist = ts[near], vs[near], idx[near], dist[near]
    if idx.size == 0:
        return out
    # Sort by slot, then distance, then latest first; keep the first of each slot.
    order = np.lexsort((-ts, dist, idx))
    idx_sorted = idx[order]
    first = np.ones(idx_sorted.shape, dtype=bool)
    first[1:] = idx_sorted[1:] != idx_sorted[:-1]
    out[idx_sorted[first]] = vs[order][first]
    return out

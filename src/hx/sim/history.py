"""Recorded signals, per step, at three levels (service, version, instance), and resampling of them.

Each step appends one float32 matrix per level (``[n_signals, n_rows]``; rows are service indices,
version-group slots or instance slots, which never change meaning). Old steps are dropped past a
retention count per level, chosen from a memory budget, so long runs of big fleets stay bounded.
"""

from __future__ import annotations

import bisect

import numpy as np

from hx.errors import BadInput
from hx.telemetry.base import CANONICAL_SIGNALS, FloatArray

#: Services and versions record every canonical signal first, then the sim's own extras.
SERVICE_SIGNALS: tuple[str, ...] = (
    *CANONICAL_SIGNALS,
    "ready_replicas",
    "desired_replicas",
    "utilization",
    "throughput",
    "dropped_rate",
    "disk_utilization",
    "restarts",
    "capacity_rps",
    "slo_violation",
)
VERSION_SIGNALS: tuple[str, ...] = (*CANONICAL_SIGNALS, "ready_replicas", "utilization", "traffic_weight", "restarts")
INSTANCE_SIGNALS: tuple[str, ...] = (
    "request_rate",
    "error_rate",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "cpu_utilization",
    "memory_utilization",
    "disk_utilization",
    "ready",
    "restarts",
    "utilization",
)


class LevelHistory:
    """Per-step matrices of one level, with a retention limit."""

    def __init__(self, signals: tuple[str, ...], retention: int) -> None:
        self.signals = signals
        self.sig_index = {s: k for k, s in enumerate(signals)}
        self.retention = max(1, retention)
        self.times: list[float] = []
        self.frames: list[np.ndarray] = []
        self.rows: list[np.ndarray | None] = []

    def append(self, t: float, frame: np.ndarray, rows: np.ndarray | None = None) -> None:
        """Record a step; ``rows`` (ascending) names the frame's columns when it holds only some rows."""
        self.times.append(t)
        self.frames.append(frame.astype(np.float32))
        self.rows.append(rows)
        if len(self.times) > self.retention * 5 // 4 + 8:
            cut = len(self.times) - self.retention
            del self.times[:cut]
            del self.frames[:cut]
            del self.rows[:cut]

    @staticmethod
    def _value(frame: np.ndarray, rows: np.ndarray | None, k: int, row: int) -> float:
        if rows is None:
            return float(frame[k, row]) if row < frame.shape[1] else np.nan
        pos = int(np.searchsorted(rows, row))
        return float(frame[k, pos]) if pos < rows.size and rows[pos] == row else np.nan

    def column(self, signal: str, row: int, t_from: float, t_to: float) -> tuple[FloatArray, FloatArray]:
        """Recorded (times, values) of one row in [t_from, t_to]; NaN where the row did not exist yet."""
        k = self.sig_index[signal]
        lo = bisect.bisect_left(self.times, t_from)
        hi = bisect.bisect_right(self.times, t_to)
        vals = np.array(
            [self._value(f, r, k, row) for f, r in zip(self.frames[lo:hi], self.rows[lo:hi], strict=True)],
            dtype=np.float64,
        )
        return np.array(self.times[lo:hi], dtype=np.float64), vals


def resample_to_grid(times: FloatArray, values: FloatArray, grid: FloatArray, window: float) -> FloatArray:
    """Mean of the samples in ``(g - window, g]`` for each grid time ``g``; NaN where there are none.

    >>> t, v = np.array([60.0, 120.0, 180.0]), np.array([1.0, 2.0, 4.0])
    >>> resample_to_grid(t, v, np.array([120.0, 240.0, 300.0]), 120.0).tolist()
    [1.5, 4.0, nan]
    """
    if window <= 0:
        raise BadInput("window must be > 0", field="step")
    ok = ~np.isnan(values)
    t, v = times[ok], values[ok]
    csum = np.concatenate([[0.0], np.cumsum(v)])
    hi = np.searchsorted(t, grid, side="right")
    lo = np.searchsorted(t, grid - window, side="right")
    n = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(n > 0, (csum[hi] - csum[lo]) / np.maximum(n, 1), np.nan)
    return np.asarray(out, dtype=np.float64)

"""Seasonal baseline: what this signal usually does at this time of day (or week), learned online.

The period is split into slots of the signal's own step (at most ``max_slots``); each slot keeps the
values of the last ``days`` periods.  The expected value of a point is the median of its slot and the
two neighbouring slots over those periods (a median: one bad day does not move it), and the surprise
is the distance from it in units of a learned scale of seasonal residuals.

>>> import numpy as np
>>> t = np.arange(0, 12 * 86400, 3600.0)
>>> v = np.where((t % 86400) < 43200, 10.0, 0.0) + np.sin(t / 977.0)
>>> v[-3] = 10.0  # the night that should be quiet is not
>>> s = SeasonalBaseline().process(v, t)
>>> bool(s[-3] > 0.8), bool(s[150:-3].max() < 0.8)
(True, True)
"""

from __future__ import annotations

import math
from collections import deque

from hx.detect.base import DETECTORS, Detector
from hx.detect.calibrate import TailCalibrator, p_to_score
from hx.detect.robust import EXPECTED_Z

DAY = 86400.0


@DETECTORS.register("seasonal")
class SeasonalBaseline(Detector):
    """Distance from the median of the same time slot over the last ``days`` periods."""

    warmup = 2

    def __init__(
        self, period: float = DAY, days: int = 5, max_slots: int = 1440, phase: int = 0, seed: int = 0
    ) -> None:
        super().__init__()
        self.period = period
        self.phase = phase
        self.days = days
        self.max_slots = max_slots
        self.seed = seed
        self._slots: list[deque[float]] | None = None
        self._n_slots = 0
        self._t0 = math.nan
        self._t_prev = math.nan
        self._dt = math.nan
        self._dev = 0.0
        self._n_res = 0
        self._level = 0.0
        self._cal = TailCalibrator()
        self._pending: tuple[float, float, int, float] = (math.nan, -1.0, -1, math.nan)

    # the slot layout is fixed from the first step seen, so one signal keeps one layout
    def _slot(self, t: float) -> int:
        return int(((t - self._t0) % self.period) / self.period * self._n_slots) % self._n_slots

    def _expected(self, t: float) -> tuple[float, int]:
        if self._slots is None:
            return math.nan, -1
        k = self._slot(t)
        n = self._n_slots
        vals = [*self._slots[k - 1], *self._slots[k], *self._slots[(k + 1) % n]]
        if len(vals) < 3:
            return math.nan, k
        vals.sort()
        m = len(vals)
        h = m // 2
        return (vals[h] if m % 2 else 0.5 * (vals[h - 1] + vals[h])), k

    def _distance(self, x: float, k: int, exp: float) -> float:
        """|x - expected|, or with ``phase`` the phase-tolerant :func:`phase_distance` (when periods are stored)."""
        if self.phase <= 0:
            return abs(x - exp)
        d = phase_distance(x, self._slots, k, self.phase)
        return d if d == d else abs(x - exp)

    def _scale(self) -> float:
        return max(1.2533 * self._dev, 1e-6 * (abs(self._level) + 1e-3))

    def _score(self, x: float, t: float) -> float:
        exp, k = self._expected(t)
        if exp != exp or self._n_res < 10:
            self._pending = (t, -1.0, k, exp)
            self._exp = (0.0, math.nan, math.nan)
            return 0.0
        scale = self._scale()
        z = self._distance(x, k, exp) / scale
        self._pending = (t, z, k, exp)
        s = p_to_score(self._cal.p(z))
        self._exp = (s, exp - EXPECTED_Z * scale, exp + EXPECTED_Z * scale)
        return s

    def _learn(self, x: float, t: float) -> None:
        if self._pending[0] != t:
            self._score(x, t)
        _, z, k, exp = self._pending
        self._pending = (math.nan, -1.0, -1, math.nan)
        if z >= 0.0:
            self._cal.learn(z)
        if self._slots is None:
            self._init_slots(t)
            if self._slots is None:
                return
            k = self._slot(t)
        if k < 0:
            k = self._slot(t)
        if exp == exp:
            self._n_res += 1
            rate = max(1.0 / self._n_res, 1.0 / 2000)
            dev = z * self._scale() if z >= 0.0 else self._distance(x, k, exp)
            self._dev += rate * (dev - self._dev)
        self._level += 0.01 * (x - self._level)
        self._slots[k].append(x)

    def _init_slots(self, t: float) -> None:
        if self._t_prev != self._t_prev:
            self._t_prev = t
            self._t0 = t
            return
        step = t - self._t_prev
        if step <= 0:
            return
        self._n_slots = max(4, min(self.max_slots, round(self.period / step)))
        self._slots = [deque(maxlen=self.days) for _ in range(self._n_slots)]

    def _step(self, x: float, t: float) -> float:
        s = self._score(x, t)
        self._learn(x, t)
        return s


def phase_distance(x: float, slots: list[deque[float]] | None, k: int, phase: int) -> float:
    """How far ``x`` is from this slot's history, allowing the pattern to arrive up to ``phase`` slots early or late.

    For each stored period (counted back from the newest), the distance to the nearest value among the
    slots ``k - phase .. k + phase`` of that period; the result is the median over periods, so a value
    must match most past periods (one odd day does not make it normal).

    >>> from collections import deque
    >>> slots = [deque([0.0, 0.0, 0.0]), deque([0.0, 9.0, 0.0]), deque([9.0, 0.0, 9.0]), deque([0.0, 0.0, 0.0])]
    >>> phase_distance(9.0, slots, 1, 0), phase_distance(9.0, slots, 1, 1)  # a spike a slot early or late each day
    (9.0, 0.0)
    """
    if slots is None:
        return math.nan
    n = len(slots)
    near = [slots[(k + o) % n] for o in range(-phase, phase + 1)]
    depth = min(len(d) for d in near)
    if depth == 0:
        return math.nan
    best = []
    for j in range(1, depth + 1):
        best.append(min(abs(x - d[-j]) for d in near))
    best.sort()
    h = depth // 2
    return best[h] if depth % 2 else 0.5 * (best[h - 1] + best[h])

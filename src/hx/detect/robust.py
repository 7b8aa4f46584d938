"""Robust rolling statistics: the z-score of a point against the median and MAD of the last points.

>>> det = RobustZ(window=50)
>>> s = det.process(np.r_[np.tile([1.0, 2.0, 3.0], 60), 30.0], np.arange(181.0))
>>> bool(s[-1] >= 0.8), round(det.explain()["expected_low"], 2) <= 1.0
(True, True)
"""

from __future__ import annotations

import bisect
import math
from collections import deque

import numpy as np

from hx.detect.base import DETECTORS, Detector
from hx.detect.calibrate import TailCalibrator, p_to_score

#: a z beyond this bounds the expected range shown by ``explain`` (about a 1e-4 normal tail)
EXPECTED_Z = 3.9


class RollingStats:
    """The median and a robust scale of the last ``window`` values, kept incrementally.

    The scale is ``1.4826 * MAD`` recomputed every ``refit`` points, floored by a slow exponential
    average of absolute deviations (the learned scale, which keeps quantised or flat signals from a
    zero scale) and by a resolution floor relative to the level.
    """

    def __init__(self, window: int, refit: int = 16) -> None:
        self.window = window
        self.refit = refit
        self._fifo: deque[float] = deque()
        self._sorted: list[float] = []
        self._mad = 0.0
        self._avg_dev = 0.0
        self._since = refit
        self._n = 0

    def __len__(self) -> int:
        return len(self._sorted)

    def median(self) -> float:
        s = self._sorted
        n = len(s)
        if n == 0:
            return 0.0
        h = n // 2
        return s[h] if n % 2 else 0.5 * (s[h - 1] + s[h])

    def scale(self) -> float:
        med = self.median()
        floor = 1e-6 * (abs(med) + 1e-3)
        return max(1.4826 * self._mad, 0.5 * self._avg_dev, floor)

    def add(self, x: float) -> None:
        med = self.median() if self._sorted else x
        self._n += 1
        rate = max(1.0 / self._n, 1.0 / (4 * self.window))
        self._avg_dev += rate * (abs(x - med) - self._avg_dev)
        fifo, srt = self._fifo, self._sorted
        fifo.append(x)
        bisect.insort(srt, x)
        if len(fifo) > self.window:
            old = fifo.popleft()
            del srt[bisect.bisect_left(srt, old)]
        self._since += 1
        if self._since >= self.refit:
            self._since = 0
            arr = np.asarray(srt)
            self._mad = float(np.median(np.abs(arr - self.median())))


@DETECTORS.register("robust")
class RobustZ(Detector):
    """Median/MAD z-score of each point against the last ``window`` points, calibrated on its own history."""

    warmup = 30

    def __init__(self, window: int = 100, history: int = 2000, seed: int = 0) -> None:
        super().__init__()
        self.window = window
        self.history = history
        self.seed = seed
        self._stats = RollingStats(window)
        self._cal = TailCalibrator(history=history)
        self._z = 0.0

    def _surprise(self, x: float) -> tuple[float, float, float]:
        med = self._stats.median()
        scale = self._stats.scale()
        return abs(x - med) / scale, med, scale

    def _score(self, x: float, t: float) -> float:
        if len(self._stats) < self.warmup:
            self._exp = (0.0, math.nan, math.nan)
            self._z = -1.0
            return 0.0
        z, med, scale = self._surprise(x)
        self._z = z
        s = p_to_score(self._cal.p(z))
        self._exp = (s, med - EXPECTED_Z * scale, med + EXPECTED_Z * scale)
        return s

    def _learn(self, x: float, t: float) -> None:
        if len(self._stats) >= self.warmup:
            z = self._surprise(x)[0]
            self._cal.learn(z)
        self._stats.add(x)

    def _step(self, x: float, t: float) -> float:
        s = self._score(x, t)
        if self._z >= 0.0:
            self._cal.learn(self._z)
        self._stats.add(x)
        return s

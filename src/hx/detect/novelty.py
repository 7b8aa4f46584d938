"""Range novelty: a value beyond everything seen so far (by a margin) is anomalous.

Numenta's NAB detector calls this the spatial anomaly.  In a stream of ``n`` exchangeable points a new
record has probability ``1/(n+1)``; a record beyond the seen range by more than ``margin`` of the range
is rarer still, decaying exponentially with the excess in units of the margin.

>>> import numpy as np
>>> v = np.r_[np.tile([0.0, 1.0, 2.0], 100), 2.05, 5.0]
>>> s = RangeNovelty().process(v, np.arange(302.0))
>>> bool(s[-2] < 0.1), bool(s[-1] >= 0.8)
(True, True)
"""

from __future__ import annotations

import math
from collections import deque

from hx.detect.base import DETECTORS, Detector
from hx.detect.calibrate import p_to_score


@DETECTORS.register("novelty")
class RangeNovelty(Detector):
    """Scores how far a value lies beyond the range of every value learned so far (or of the last ``window``)."""

    warmup = 100

    def __init__(self, margin: float = 0.05, window: int = 0, seed: int = 0) -> None:
        super().__init__()
        self.margin = margin
        self.window = window
        self.seed = seed
        self._lo = math.inf
        self._hi = -math.inf
        self._n = 0
        # with a window: the running max and min of the last ``window`` values, as monotone queues
        self._maxq: deque[tuple[int, float]] = deque()
        self._minq: deque[tuple[int, float]] = deque()

    def _score(self, x: float, t: float) -> float:
        lo, hi, n = self._lo, self._hi, self._n
        if n < self.warmup:
            self._exp = (0.0, lo if n else math.nan, hi if n else math.nan)
            return 0.0
        m = self.margin * max(hi - lo, 1e-6 * (abs(hi) + abs(lo) + 1e-3))
        excess = x - hi if x > hi else lo - x
        s = 0.0
        if excess > m:
            seen = n if self.window <= 0 or n < self.window else self.window
            s = p_to_score(math.exp(-(excess - m) / m) / (seen + 1.0))
        self._exp = (s, lo - m, hi + m)
        return s

    def _learn(self, x: float, t: float) -> None:
        self._n += 1
        if self.window <= 0:
            if x < self._lo:
                self._lo = x
            if x > self._hi:
                self._hi = x
            return
        n, maxq, minq = self._n, self._maxq, self._minq
        while maxq and maxq[-1][1] <= x:
            maxq.pop()
        maxq.append((n, x))
        while minq and minq[-1][1] >= x:
            minq.pop()
        minq.append((n, x))
        while maxq[0][0] <= n - self.window:
            maxq.popleft()
        while minq[0][0] <= n - self.window:
            minq.popleft()
        self._hi, self._lo = maxq[0][1], minq[0][1]

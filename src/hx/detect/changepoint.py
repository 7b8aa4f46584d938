"""Level shifts: a two-sided CUSUM over robust z-scores against a slow rolling baseline.

Each point's z against the median/scale of the last ``window`` points is clipped to +-``clip`` (one
spike can only add so much) and accumulated as ``S+ = max(0, S+ + z - drift)`` and the mirror ``S-``;
a sustained shift grows them steadily while noise keeps them near 0.  The surprise is the larger sum,
calibrated against its own history; once a point scores ``reset_at`` the sums restart from 0 (the
change has been signalled; the rolling baseline then learns the new level).

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> v = np.r_[rng.normal(0, 1, 2000), rng.normal(3, 1, 30)]
>>> s = Cusum().process(v, np.arange(2030.0))
>>> bool(s[-30:].max() > 0.8), int((s[200:2000] >= 0.8).sum()) <= 2
(True, True)
"""

from __future__ import annotations

import math

from hx.detect.base import DETECTORS, Detector
from hx.detect.calibrate import TailCalibrator, p_to_score
from hx.detect.robust import RollingStats


@DETECTORS.register("cusum")
class Cusum(Detector):
    """Two-sided CUSUM of clipped robust z-scores; scores how unusual the accumulated drift is."""

    warmup = 30

    def __init__(
        self, window: int = 300, drift: float = 0.5, clip: float = 4.0, reset_at: float = 0.8, seed: int = 0
    ) -> None:
        super().__init__()
        self.reset_at = reset_at
        self.window = window
        self.drift = drift
        self.clip = clip
        self.seed = seed
        self._stats = RollingStats(window)
        self._cal = TailCalibrator(prior=False)
        self._up = 0.0
        self._down = 0.0
        self._next = (0.0, 0.0, -1.0)

    def _score(self, x: float, t: float) -> float:
        stats = self._stats
        if len(stats) < self.warmup:
            self._next = (0.0, 0.0, -1.0)
            self._exp = (0.0, math.nan, math.nan)
            return 0.0
        med = stats.median()
        scale = stats.scale()
        z = (x - med) / scale
        c = self.clip
        z = c if z > c else (-c if z < -c else z)
        up = max(0.0, self._up + z - self.drift)
        down = max(0.0, self._down - z - self.drift)
        surprise = up if up > down else down
        s = p_to_score(self._cal.p(surprise))
        self._next = (up, down, surprise) if s < self.reset_at else (0.0, 0.0, surprise)
        # the band inside which this point would not have grown either sum
        lo = med - (self.drift - self._down) * scale if self._down < self.drift else med - self.drift * scale
        hi = med + (self.drift - self._up) * scale if self._up < self.drift else med + self.drift * scale
        self._exp = (s, min(lo, med), max(hi, med))
        return s

    def _learn(self, x: float, t: float) -> None:
        self._score(x, t)
        self._commit(x)

    def _commit(self, x: float) -> None:
        up, down, surprise = self._next
        if surprise >= 0.0:
            self._up, self._down = up, down
            self._cal.learn(surprise)
        self._stats.add(x)

    def _step(self, x: float, t: float) -> float:
        s = self._score(x, t)
        self._commit(x)
        return s

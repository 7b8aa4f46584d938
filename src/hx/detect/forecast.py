"""Forecast residuals: predict the next value with Holt's damped-trend smoothing, score the surprise.

The surprise is the absolute one-step forecast error in units of a learned scale (an exponential
average of past absolute errors), calibrated against its own history.

>>> import numpy as np
>>> v = np.r_[np.linspace(0, 10, 400), 30.0]
>>> s = ForecastResidual().process(v, np.arange(401.0))
>>> bool(s[-1] > 0.8), bool(s[50:-1].max() < 0.5)
(True, True)
"""

from __future__ import annotations

import math

from hx.detect.base import DETECTORS, Detector
from hx.detect.calibrate import TailCalibrator, p_to_score
from hx.detect.robust import EXPECTED_Z


@DETECTORS.register("forecast")
class ForecastResidual(Detector):
    """Surprise of each point against a one-step damped-trend (Holt) forecast."""

    warmup = 10

    def __init__(self, alpha: float = 0.5, beta: float = 0.05, phi: float = 0.9, seed: int = 0) -> None:
        super().__init__()
        self.alpha = alpha
        self.beta = beta
        self.phi = phi
        self.seed = seed
        self._level = math.nan
        self._trend = 0.0
        self._dev = 0.0
        self._n = 0
        self._cal = TailCalibrator()
        self._z = -1.0

    def _forecast(self) -> float:
        return self._level + self.phi * self._trend

    def _scale(self) -> float:
        return max(1.2533 * self._dev, 1e-6 * (abs(self._level) + 1e-3))

    def _score(self, x: float, t: float) -> float:
        if self._n < self.warmup:
            self._z = -1.0
            self._exp = (0.0, math.nan, math.nan)
            return 0.0
        f = self._forecast()
        scale = self._scale()
        z = abs(x - f) / scale
        self._z = z
        s = p_to_score(self._cal.p(z))
        self._exp = (s, f - EXPECTED_Z * scale, f + EXPECTED_Z * scale)
        return s

    def _learn(self, x: float, t: float) -> None:
        self._score(x, t)
        self._commit(x)

    def _commit(self, x: float) -> None:
        if self._z >= 0.0:
            self._cal.learn(self._z)
        if self._n == 0:
            self._level = x
        else:
            f = self._forecast()
            err = x - f
            rate = max(1.0 / self._n, 1.0 / 1000)
            self._dev += rate * (abs(err) - self._dev)
            level = f + self.alpha * err
            self._trend = self.phi * self._trend + self.beta * (level - self._level - self.phi * self._trend)
            self._level = level
        self._n += 1

    def _step(self, x: float, t: float) -> float:
        s = self._score(x, t)
        self._commit(x)
        return s

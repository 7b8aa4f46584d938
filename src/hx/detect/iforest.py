"""Isolation Forest over windowed features, retrained periodically on past data only.

Each point becomes a feature vector: its difference from the median of the previous ``lags`` values
and the last ``lags`` first differences, scaled by the robust spread of the training data.  Every
``retrain`` points a fresh scikit-learn ``IsolationForest`` is fitted on the feature vectors of the
last ``history`` points (all already seen), so no point is ever scored by a forest that saw it.  The
forest's isolation score is calibrated against its own history like every other surprise.

``process`` is vectorised: between two retrains the forest is fixed, so the block is scored in one
call, which gives exactly the scores of the point-by-point loop.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> v = np.r_[rng.normal(0, 1, 1500), 12.0]
>>> s = IsolationForestDetector().process(v, np.arange(1501.0))
>>> bool(s[-1] > s[:-1].mean() + 0.3)
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from hx.detect.base import DETECTORS, Detector, FloatArray
from hx.detect.calibrate import TailCalibrator, p_to_score


@DETECTORS.register("iforest")
class IsolationForestDetector(Detector):
    """scikit-learn Isolation Forest on lagged-difference windows, refitted on the past every ``retrain`` points."""

    def __init__(
        self, lags: int = 4, retrain: int = 500, history: int = 2000, n_estimators: int = 50, seed: int = 0
    ) -> None:
        super().__init__()
        self.lags = lags
        self.retrain = retrain
        self.history = history
        self.n_estimators = n_estimators
        self.seed = seed
        self._values: list[float] = []
        self._forest: Any = None
        self._center = 0.0
        self._scale = 1.0
        self._since = 0
        self._cal = TailCalibrator(prior=False)
        self._pending = (math.nan, -1.0)

    @property
    def warmup(self) -> int:  # type: ignore[override]
        return self.retrain

    def _features(self, window: FloatArray) -> FloatArray:
        """Rows of features, one per point whose ``lags`` predecessors are in ``window``."""
        lags = self.lags
        win = np.lib.stride_tricks.sliding_window_view(window, lags + 1)
        med = np.median(win[:, :-1], axis=1)
        diffs = np.diff(win, axis=1)
        return np.column_stack([win[:, -1] - med, diffs]) / self._scale

    def _surprises(self, feats: FloatArray) -> FloatArray:
        return -np.asarray(self._forest.score_samples(feats), dtype=np.float64) * 100.0

    def _score(self, x: float, t: float) -> float:
        if self._forest is None:
            self._pending = (t, -1.0)
            self._exp = (0.0, math.nan, math.nan)
            return 0.0
        window = np.asarray([*self._values[-self.lags :], x])
        z = float(self._surprises(self._features(window))[0])
        self._pending = (t, z)
        s = p_to_score(self._cal.p(z))
        self._exp = (s, math.nan, math.nan)
        return s

    def _learn(self, x: float, t: float) -> None:
        if self._pending[0] != t:
            self._score(x, t)
        z = self._pending[1]
        self._pending = (math.nan, -1.0)
        if z >= 0.0:
            self._cal.learn(z)
        self._values.append(x)
        if len(self._values) > self.history + self.lags:
            del self._values[: len(self._values) - self.history - self.lags]
        self._since += 1
        if self._since >= self.retrain:
            self._fit()

    def _fit(self) -> None:
        from sklearn.ensemble import IsolationForest

        self._since = 0
        vals = np.asarray(self._values)
        if vals.size <= self.lags + 10:
            return
        spread = np.median(np.abs(np.diff(vals) - np.median(np.diff(vals)))) * 1.4826
        self._scale = float(max(spread, np.std(vals) * 0.1, 1e-9))
        feats = self._features(vals)
        self._forest = IsolationForest(n_estimators=self.n_estimators, random_state=self.seed).fit(feats)

    def process(self, values: npt.ArrayLike, timestamps: npt.ArrayLike) -> FloatArray:
        """Score then learn every point; each block between two retrains is scored in one call."""
        vs = np.asarray(values, dtype=np.float64)
        ts = np.asarray(timestamps, dtype=np.float64)
        if vs.shape != ts.shape or vs.ndim != 1 or np.isnan(vs).any():
            return super().process(vs, ts)
        out = np.zeros(vs.shape[0])
        i = 0
        while i < vs.shape[0]:
            if self._forest is None:
                out[i] = self._step(float(vs[i]), float(ts[i]))
                i += 1
                continue
            block = min(self.retrain - self._since, vs.shape[0] - i)
            window = np.r_[np.asarray(self._values[-self.lags :]), vs[i : i + block]]
            zs = self._surprises(self._features(window)).tolist()
            for j, z in enumerate(zs):
                out[i + j] = p_to_score(self._cal.p(z))
                self._cal.learn(z)
                self._exp = (out[i + j], math.nan, math.nan)
            self._values.extend(vs[i : i + block].tolist())
            if len(self._values) > self.history + self.lags:
                del self._values[: len(self._values) - self.history - self.lags]
            self._since += block
            if self._since >= self.retrain:
                self._fit()
            i += block
        return out

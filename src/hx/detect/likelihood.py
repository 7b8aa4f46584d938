"""Anomaly likelihood as a detector: a base detector's scores, re-read against their own history.

Wraps any registered detector: its score of each point is the *raw* score, and the output is the
Numenta anomaly likelihood of the mean of the last ``short`` raw scores against the last ``long`` (see
:class:`hx.detect.calibrate.AnomalyLikelihood`; ``floor`` floors its Gaussian tail by the empirical one),
as a calibrated score.  A lone blip in a noisy signal
moves the short mean little; a run of unusual points, or one far outside the usual, moves it a lot.

>>> import numpy as np
>>> t = np.arange(0, 8 * 86400, 3600.0)
>>> v = np.where((t % 86400) < 43200, 10.0, 0.0) + np.sin(t / 977.0)
>>> v[-24:-12] = 0.0  # a day whose busy half never came
>>> s = Likelihood().process(v, t)
>>> bool(s[-20:].max() >= 0.8), bool(s[:-24].max() < 0.8)
(True, True)
"""

from __future__ import annotations

from typing import Any

from hx.detect.base import DETECTORS, Detector, make
from hx.detect.calibrate import AnomalyLikelihood, p_to_score


@DETECTORS.register("likelihood")
class Likelihood(Detector):
    """Anomaly likelihood over the scores of the ``base`` detector."""

    def __init__(
        self,
        base: str = "seasonal",
        short: int = 10,
        long: int = 8640,
        base_params: dict[str, Any] | None = None,
        floor: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.base = base
        self.base_params = dict(base_params or {})
        self.short = short
        self.long = long
        self.floor = floor
        self.seed = seed
        self._base = make(base, **self.base_params, seed=seed)
        self._al = AnomalyLikelihood(short=short, long=long, floor=floor)

    @property
    def warmup(self) -> int:  # type: ignore[override]
        return self._base.warmup + self._al.min_history

    def _explain(self, s: float, raw: float) -> None:
        _, lo, hi = self._base._exp
        self._exp = (s, lo, hi)

    def _components(self) -> dict[str, float]:
        return {self.base: self._base._exp[0], "likelihood": self._exp[0]}

    def _ready(self) -> bool:
        # the base gives an expected range once it is past its warm-up; its warm-up zeros are not
        # history (a run of them would make the first real score look infinitely unusual)
        return self._base._exp[1] == self._base._exp[1]

    def _score(self, x: float, t: float) -> float:
        raw = self._base._score(x, t)
        s = p_to_score(self._al.peek(raw)) if self._ready() else 0.0
        self._explain(s, raw)
        return s

    def _learn(self, x: float, t: float) -> None:
        raw = self._base._score(x, t)
        ready = self._ready()
        self._base._learn(x, t)
        if ready:
            self._al.learn(raw)

    def _step(self, x: float, t: float) -> float:
        raw = self._base._score(x, t)
        ready = self._ready()
        self._base._learn(x, t)
        if not ready:
            self._explain(0.0, raw)
            return 0.0
        s = p_to_score(self._al.update(raw))
        self._explain(s, raw)
        return s

    def _gap(self) -> None:
        self._exp = (0.0, float("nan"), float("nan"))
        self._base._gap()

"""The ensemble: calibrated detectors combined, with alerts folded per incident.

Every component's score is a calibrated tail probability on the same scale, so the ensemble takes the
most confident one (the maximum score): each component is specialised (range novelty for values never
seen, the seasonal likelihood for points or stretches unusual for their time of day, context novelty
of the values and of their steps for a learned rhythm that breaks -- see :mod:`hx.detect.context_novelty`)
and a point need only be clearly anomalous to one of them.  After a score reaches ``alert_threshold``, the scores of the
next ``cooldown`` points are halved, so one incident raises one alert, as an operator wants (and as
NAB rewards).  The anomaly engine sets ``alert_threshold`` to the threshold it alerts at: a fold at a lower level
than the alerts would halve an incident's scores on their way up and hide it (:func:`fold_alerts`).
``explain()`` names each component's score and the tightest expected range.

The default components were chosen on NAB (see ``bench/nab.py`` and the experiment log in
``bench/results/nab.json``): adding the raw robust z or the forecast residual raised recall a little but
false alarms more; adding the two context detectors raised recall by more than it raised false alarms.

>>> import numpy as np
>>> t = np.arange(0, 10 * 86400, 3600.0)
>>> v = np.where((t % 86400) < 43200, 10.0, 0.0) + np.sin(t / 977.0)
>>> v[-5] = 40.0
>>> det = Ensemble()
>>> s = det.process(v, t)
>>> bool(s[-5] >= 0.8), bool(s[:-5].max() < 0.8), sorted(det.explain()["components"])
(True, True, ['context', 'context_step', 'likelihood', 'novelty'])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from hx.detect.base import DETECTORS, Detector, make

DEFAULT_COMPONENTS = ("likelihood", "novelty", "context", "context_step")


def fold_alerts(raw: npt.ArrayLike, threshold: float, cooldown: int = 100) -> npt.NDArray[np.float64]:
    """The scores an ensemble folding at ``threshold`` (``alert_threshold``, no ``rearm``) gives for its members'
    maxima ``raw`` (what it scores with ``cooldown=0``): a point at or above the threshold outside a cooldown keeps
    its score and halves the next ``cooldown``.  A pure function of the raw scores, so one stream serves every
    threshold (``bench/nab.py`` sweeps the operating threshold with the fold that goes with it).

    >>> fold_alerts([0.1, 0.9, 0.95, 0.7, 0.9, 0.2], 0.8, cooldown=2).tolist()
    [0.1, 0.9, 0.475, 0.35, 0.9, 0.1]
    """
    out = np.array(raw, dtype=np.float64)
    free_from = 0
    for i in np.flatnonzero(out >= threshold):
        if i < free_from:
            continue
        out[i + 1 : i + 1 + cooldown] *= 0.5
        free_from = int(i) + cooldown + 1
    return out


@DETECTORS.register("ensemble")
class Ensemble(Detector):
    """Maximum of calibrated component scores, with per-incident alert folding."""

    def __init__(
        self,
        components: tuple[str, ...] = DEFAULT_COMPONENTS,
        alert_threshold: float = 0.8,
        cooldown: int = 100,
        options: dict[str, dict[str, Any]] | None = None,
        rearm: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.components = tuple(components)
        self.options = {k: dict(v) for k, v in (options or {}).items()}
        self.rearm = rearm
        self.alert_threshold = alert_threshold
        self.cooldown = cooldown
        self.seed = seed
        self._parts = [make(name, **self.options.get(name, {}), seed=seed) for name in self.components]
        self._quiet = 0
        self._since_alert = cooldown
        self._raw = 0.0

    @property
    def warmup(self) -> int:  # type: ignore[override]
        """The longest warm-up of the members that score from the start (a late joiner adds alerts after its own)."""
        ready = [p.warmup for p in self._parts if not p.joins_late]
        return max(ready or [p.warmup for p in self._parts])

    def _combine(self, scores: list[float]) -> float:
        raw = max(scores)
        self._raw = raw
        s = raw * 0.5 if self._since_alert < self.cooldown else raw
        self._exp = (s, math.nan, math.nan)
        return s

    def explain(self) -> dict[str, Any]:
        """The last point: the tightest expected range any component gives, each component's score."""
        lows = [lo for p in self._parts if (lo := p._exp[1]) == lo]
        highs = [hi for p in self._parts if (hi := p._exp[2]) == hi]
        lo, hi = (max(lows), min(highs)) if lows and highs else (math.nan, math.nan)
        if lo > hi:
            lo, hi = min(lows), max(highs)
        return {
            "score": self._exp[0],
            "expected_low": lo,
            "expected_high": hi,
            "components": {name: p._exp[0] for name, p in zip(self.components, self._parts, strict=True)},
            "suppressed": self._exp[0] < self._raw,
        }

    def _gap(self) -> None:
        self._exp = (0.0, math.nan, math.nan)
        for p in self._parts:
            p._gap()

    def _score(self, x: float, t: float) -> float:
        return self._combine([p._score(x, t) for p in self._parts])

    def _learn(self, x: float, t: float) -> None:
        self._score(x, t)
        for p in self._parts:
            p._learn(x, t)
        self._fold()

    def _fold(self) -> None:
        """Advance the cooldown after a point: an alert starts it; with ``rearm``, a quiet stretch ends it."""
        if self._since_alert < self.cooldown:
            self._since_alert += 1
            if self.rearm:
                self._quiet = self._quiet + 1 if self._raw < 0.5 * self.alert_threshold else 0
                if self._quiet >= self.rearm:
                    self._since_alert = self.cooldown
        elif self._raw >= self.alert_threshold:
            self._since_alert = 0
            self._quiet = 0
        else:
            self._since_alert += 1

    def _step(self, x: float, t: float) -> float:
        raw = 0.0
        for p in self._parts:
            s = p._step(x, t)
            if s > raw:
                raw = s
        self._raw = raw
        s = raw * 0.5 if self._since_alert < self.cooldown else raw
        self._fold()
        self._exp = (s, math.nan, math.nan)
        return s


@DETECTORS.register("ensemble_resonance")
class ResonanceEnsemble(Ensemble):
    """The ensemble with the adaptive-resonance member (:mod:`hx.detect.resonance`) added: the shipped default.

    ``intelligent_monitoring.anomaly_detection.detector`` defaults to ``ensemble_resonance`` since issue 17: the
    procedure that chooses the configuration inside the training folds (NAB, leave one category out, at the shipped
    threshold 0.8) picks it in 4 of 5 folds and on all 41 files; it is neutral on the operations KPIs.  The previous
    default, the four members alone, stays available as ``ensemble``; a track saved by it starts afresh under this
    one (the anomaly engine logs which).  See bench/results/nab.json and ops_kpi.json for the figures.
    """

    def __init__(
        self,
        components: tuple[str, ...] = (*DEFAULT_COMPONENTS, "resonance"),
        alert_threshold: float = 0.8,
        cooldown: int = 100,
        options: dict[str, dict[str, Any]] | None = None,
        rearm: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(components, alert_threshold, cooldown, options, rearm, seed)

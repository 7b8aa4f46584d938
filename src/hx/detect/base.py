"""The Detector family: learn one point, score one point, and a fast streaming path.

Every detector scores a point *before* it learns it.  ``process`` is that loop over a whole array and is
exactly equivalent to calling ``score_one`` then ``learn_one`` point by point; detectors make it fast
by keeping their state in plain Python floats and implementing one fused ``_step``.

A subclass implements three private hooks: ``_score(x, t)`` (no state change; may cache what
``_learn`` needs for the same point), ``_learn(x, t)`` and optionally ``_step(x, t)`` (score then
learn in one go).  The public methods validate and handle gaps: a NaN value scores 0 and is not
learned.

>>> from hx.detect import DETECTORS
>>> det = DETECTORS.get("robust")()
>>> scores = det.process(np.r_[np.zeros(200), 50.0], np.arange(201.0))
>>> bool(scores[-1] > 0.8), bool(scores[:-1].max() < 0.5)
(True, True)
"""

from __future__ import annotations

import copy
import inspect
import math
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from hx.errors import BadInput
from hx.registry import Registry

FloatArray = npt.NDArray[np.float64]


class Detector:
    """Base of every anomaly detector: ``learn_one``, ``score_one``, ``process``, ``explain``.

    Scores lie in [0, 1] and are calibrated (see :mod:`hx.detect.calibrate`): a score ``s`` means the
    point is as unusual as a ``10 ** (-SCORE_DECADES * s)`` tail event of the signal's own history,
    so one ``alert_threshold`` means the same on any signal.
    """

    #: points a fresh detector must learn before its scores mean anything (they are 0 until then)
    warmup: ClassVar[int] = 0
    #: as an ensemble member, it only adds alerts once its own (longer) warm-up is over, so the ensemble is ready
    #: when its other members are (the adaptive-resonance member: 600 points of probation)
    joins_late: ClassVar[bool] = False

    def __init__(self) -> None:
        #: (score, expected_low, expected_high) of the last scored point; explain() builds on it
        self._exp: tuple[float, float, float] = (0.0, math.nan, math.nan)

    # ---- the public verbs ---------------------------------------------------------------

    def score_one(self, x: float, t: float) -> float:
        """Score ``x`` observed at unix time ``t`` against what was learned so far; changes nothing learned."""
        x, t = _check_point(x, t)
        if math.isnan(x):
            self._gap()
            return 0.0
        return self._score(x, t)

    def learn_one(self, x: float, t: float) -> None:
        """Learn ``x`` observed at unix time ``t`` (a NaN gap is not learned)."""
        x, t = _check_point(x, t)
        if not math.isnan(x):
            self._learn(x, t)

    def process(self, values: npt.ArrayLike, timestamps: npt.ArrayLike) -> FloatArray:
        """Score then learn every point in order; the same as the point-by-point loop, only faster."""
        vs = np.asarray(values, dtype=np.float64)
        ts = np.asarray(timestamps, dtype=np.float64)
        if vs.shape != ts.shape or vs.ndim != 1:
            raise BadInput(f"process needs two 1-d arrays of one length, got {vs.shape} and {ts.shape}", field="values")
        if np.isinf(vs).any():
            raise BadInput(f"row {int(np.flatnonzero(np.isinf(vs))[0]) + 1}: infinite value", field="values")
        out = np.zeros(vs.shape[0])
        step = self._step
        for i, (x, t) in enumerate(zip(vs.tolist(), ts.tolist(), strict=True)):
            if x != x:  # NaN gap
                self._gap()
                continue
            out[i] = step(x, t)
        return out

    def explain(self) -> dict[str, Any]:
        """The last scored point: its score, the expected range and each component's score.

        Keys: ``score``, ``expected_low``, ``expected_high``, ``components`` ({name: score}).
        """
        score, lo, hi = self._exp
        return {"score": score, "expected_low": lo, "expected_high": hi, "components": self._components()}

    def _components(self) -> dict[str, float]:
        return {self._name(): self._exp[0]}

    def _name(self) -> str:
        for name in DETECTORS.names():
            if DETECTORS.get(name) is type(self):
                return name
        return type(self).__name__.lower()

    def _gap(self) -> None:
        self._exp = (0.0, math.nan, math.nan)

    # ---- the hooks a detector implements -------------------------------------------------

    def _score(self, x: float, t: float) -> float:
        raise NotImplementedError

    def _learn(self, x: float, t: float) -> None:
        raise NotImplementedError

    def _step(self, x: float, t: float) -> float:
        s = self._score(x, t)
        self._learn(x, t)
        return s

    # ---- config and state -----------------------------------------------------------------

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments this detector was built with."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: copy.deepcopy(getattr(self, name)) for name in names}

    def clone(self) -> Detector:
        """A fresh, untrained detector with the same parameters."""
        return type(self)(**self.get_params())

    def get_state(self) -> dict[str, Any]:
        """Everything learned, as a picklable dict (a saved model is its params plus this)."""
        return copy.deepcopy(self.__dict__)

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned (the detector must have the same params)."""
        self.__dict__.update(copy.deepcopy(state))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def _check_point(x: float, t: float) -> tuple[float, float]:
    try:
        xf, tf = float(x), float(t)
    except (TypeError, ValueError):
        raise BadInput(f"a point needs a numeric value and time, got {x!r} at {t!r}", field="value") from None
    if math.isinf(xf):
        raise BadInput(f"value {x!r} is infinite; send a finite number or NaN for a gap", field="value")
    if not math.isfinite(tf):
        raise BadInput(f"time {t!r} is not finite", field="timestamp")
    return xf, tf


#: Every detector hx ships, by name.
DETECTORS: Registry[type[Detector]] = Registry("detector")


def make(name: str, **params: Any) -> Detector:
    """A fresh detector by registry name (an unknown name raises UnknownName listing the valid ones; parameters it
    does not take, or of the wrong type, raise BadInput naming the detector)."""
    cls = DETECTORS.get(name)
    try:
        return cls(**params)
    except TypeError as err:
        raise BadInput(f"detector {name!r} does not take these parameters: {err}", field="params") from None

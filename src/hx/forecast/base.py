"""The Forecaster family: one base class, two required verbs (``fit`` / ``forecast``), a registry.

Every forecaster works on a regular time grid.  ``fit`` takes raw ``timestamps`` (unix seconds) and
``values``; it places them on a grid of ``step`` seconds (the median spacing unless given), so that a
missing sample becomes a NaN *gap* rather than a made-up number.  Models must tolerate gaps, zeros and
spikes, and never return NaN.

Handling of bad input (documented here once, enforced by the public methods):

- timestamps must be finite and strictly increasing: anything else is :class:`~hx.errors.BadInput`
  (sort and de-duplicate first with :func:`regularize` if the source may be unordered);
- values may be NaN (gaps) or +-inf (treated as gaps); a history with fewer than ``min_points`` real
  values is :class:`~hx.errors.BadInput`;
- ``forecast(h)`` needs ``1 <= h <= len(history)`` (in grid steps): a horizon longer than the history
  supports is :class:`~hx.errors.BadInput`;
- if every value seen so far is >= 0 (request rates, utilisation), forecasts are clipped at 0.

>>> import numpy as np
>>> ts = np.arange(0.0, 4 * 86400.0, 3600.0)
>>> y = 10 + np.sin(2 * np.pi * ts / 86400)
>>> fc = FORECASTERS.get("seasonal_naive")().fit(ts, y).forecast(3)
>>> len(fc), bool(np.all(fc.lower <= fc.mean) and np.all(fc.mean <= fc.upper))
(3, True)
"""

from __future__ import annotations

import abc
import inspect
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

from hx.errors import BadInput, ModelError
from hx.registry import Registry

FloatArray = npt.NDArray[np.float64]

DAY_S = 86400.0
WEEK_S = 7 * DAY_S


@dataclass(frozen=True)
class Forecast:
    """A forecast over ``len(mean)`` future grid steps with a central interval at ``level``.

    ``quantile(q)`` gives any quantile, read off the interval under a (possibly skewed) normal shape:
    each side of the interval has its own scale.

    >>> f = Forecast(np.array([60.0]), np.array([10.0]), np.array([8.0]), np.array([13.0]), level=0.8)
    >>> round(float(f.quantile(0.9)[0]), 3), round(float(f.quantile(0.5)[0]), 3)
    (13.0, 10.0)
    """

    timestamps: FloatArray
    mean: FloatArray
    lower: FloatArray
    upper: FloatArray
    level: float = 0.8
    model: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.mean.shape[0])

    def quantile(self, q: float) -> FloatArray:
        """The ``q`` quantile (0 < q < 1) at each step, extrapolated from the interval."""
        if not 0.0 < q < 1.0:
            raise BadInput(f"quantile must be in (0, 1), got {q}", field="q")
        z_level = float(norm.ppf(0.5 + self.level / 2.0))
        z_q = float(norm.ppf(q))
        half = (self.upper - self.mean) if q >= 0.5 else (self.mean - self.lower)
        out = self.mean + half * (z_q / z_level)
        return np.asarray(np.where(np.isfinite(out), out, self.mean), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamps": self.timestamps.tolist(),
            "mean": self.mean.tolist(),
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
            "level": self.level,
            "model": self.model,
            **({"fallback": self.meta} if "fallback_from" in self.meta else {}),
        }


def regularize(
    timestamps: npt.ArrayLike, values: npt.ArrayLike, step: float | None = None
) -> tuple[FloatArray, FloatArray]:
    """Sort by time, average duplicate/colliding samples, and lay the series on a regular grid.

    Missing grid points are NaN.  ``step`` defaults to the median positive spacing.

    >>> t, v = regularize([120.0, 0.0, 60.0, 60.0, 240.0], [3.0, 1.0, 2.0, 4.0, 5.0])
    >>> t.tolist(), v.tolist()
    ([0.0, 60.0, 120.0, 180.0, 240.0], [1.0, 3.0, 3.0, nan, 5.0])
    """
    ts = np.asarray(timestamps, dtype=np.float64).ravel()
    vs = np.asarray(values, dtype=np.float64).ravel()
    if ts.shape != vs.shape:
        raise BadInput(f"{ts.shape[0]} timestamps but {vs.shape[0]} values", field="values")
    if ts.size == 0:
        raise BadInput("empty series: need at least a few observations", field="values")
    if not np.all(np.isfinite(ts)):
        raise BadInput("timestamps must be finite unix seconds", field="timestamps")
    order = np.argsort(ts, kind="stable")
    ts, vs = ts[order], vs[order]
    if step is None:
        d = np.diff(ts)
        d = d[d > 0]
        step = float(np.median(d)) if d.size else 60.0
    if not step > 0:
        raise BadInput(f"step must be > 0 seconds, got {step}", field="step")
    idx = np.rint((ts - ts[0]) / step).astype(np.int64)
    n = int(idx[-1]) + 1
    vs = np.where(np.isfinite(vs), vs, np.nan)
    ok = ~np.isnan(vs)
    sums = np.bincount(idx[ok], weights=vs[ok], minlength=n)
    counts = np.bincount(idx[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        grid = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return ts[0] + step * np.arange(n, dtype=np.float64), grid


def _check_increasing(ts: FloatArray) -> None:
    if not np.all(np.isfinite(ts)):
        raise BadInput("timestamps must be finite unix seconds", field="timestamps")
    d = np.diff(ts)
    bad = np.flatnonzero(d <= 0)
    if bad.size:
        i = int(bad[0])
        raise BadInput(
            f"timestamps must be strictly increasing: t[{i}]={ts[i]} then t[{i + 1}]={ts[i + 1]}; "
            "sort and de-duplicate with hx.forecast.regularize() first",
            field="timestamps",
            index=i,
        )


class Forecaster(abc.ABC):
    """Base of every forecaster: the public verbs validate, the private hooks compute.

    Subclasses implement ``_fit(y)`` (``y`` is the gridded history, NaN = gap, available as
    ``self.y_``) and ``_forecast(h)`` returning ``(mean, lower, upper)``; optionally ``_update(new)``
    when they keep recursive state.  Constructor arguments are the model's config: ``clone()``
    rebuilds an unfitted copy from them, ``get_state()``/``from_state()`` round-trip a fitted model.
    """

    name: ClassVar[str] = "forecaster"
    #: fewest real (non-NaN) observations ``fit`` accepts
    min_points: ClassVar[int] = 4

    def __init__(self, *, level: float = 0.8, step: float | None = None) -> None:
        if not 0.0 < level < 1.0:
            raise BadInput(f"interval level must be in (0, 1), got {level}", field="level")
        if step is not None and not step > 0:
            raise BadInput(f"step must be > 0 seconds, got {step}", field="step")
        self.level = level
        self.step = step
        self._fitted = False

    # ---- config and state -------------------------------------------------------------

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        """A light config for the contract tests (river's habit); the default config otherwise."""
        return {}

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (the model's config)."""
        sig = inspect.signature(type(self).__init__)
        return {p: getattr(self, p) for p in sig.parameters if p != "self"}

    def clone(self) -> Self:
        """An unfitted copy with the same config."""
        return type(self)(**self.get_params())

    def get_state(self) -> dict[str, Any]:
        """Config plus fitted state, as plain (picklable) data."""
        state = {k: v for k, v in self.__dict__.items() if k.endswith("_") or k == "_fitted"}
        return {"model": self.name, "params": self.get_params(), "state": state}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Self:
        """Rebuild a model saved with :meth:`get_state`."""
        if data.get("model") != cls.name:
            raise ModelError(f"state is for model {data.get('model')!r}, not {cls.name!r}")
        obj = cls(**data["params"])
        for k, v in data["state"].items():
            setattr(obj, k, v.copy() if isinstance(v, np.ndarray) else v)
        return obj

    @property
    def fitted(self) -> bool:
        return self._fitted

    # ---- the verbs --------------------------------------------------------------------

    def fit(self, timestamps: npt.ArrayLike, values: npt.ArrayLike) -> Self:
        """Learn from a history; replaces anything learnt before."""
        ts = np.asarray(timestamps, dtype=np.float64).ravel()
        vs = np.asarray(values, dtype=np.float64).ravel()
        if ts.shape != vs.shape:
            raise BadInput(f"{ts.shape[0]} timestamps but {vs.shape[0]} values", field="values")
        _check_increasing(ts)
        grid_t, y = regularize(ts, vs, self.step)
        n_real = int(np.sum(~np.isnan(y)))
        if n_real < self.min_points:
            raise BadInput(
                f"{self.name}: {n_real} usable observations, need at least {self.min_points}",
                field="values",
            )
        self.step_ = float(grid_t[1] - grid_t[0]) if grid_t.size > 1 else float(self.step or 60.0)
        self.t0_ = float(grid_t[0])
        self.y_ = y
        self.nonneg_ = bool(np.nanmin(y) >= 0)
        self._fit(y)
        self._fitted = True
        return self

    def update(self, timestamps: npt.ArrayLike, values: npt.ArrayLike) -> Self:
        """Append observations after the end of the history without re-learning the parameters.

        Timestamps at or before the last one seen are ignored; the new points are placed on the
        model's grid (a skipped grid point becomes a gap).
        """
        self._require_fitted()
        ts = np.asarray(timestamps, dtype=np.float64).ravel()
        vs = np.asarray(values, dtype=np.float64).ravel()
        if ts.shape != vs.shape:
            raise BadInput(f"{ts.shape[0]} timestamps but {vs.shape[0]} values", field="values")
        _check_increasing(ts)
        n_old = self.y_.shape[0]
        idx = np.rint((ts - self.t0_) / self.step_).astype(np.int64)
        keep = idx >= n_old
        if not keep.any():
            return self
        idx, vs = idx[keep], vs[keep]
        new = np.full(int(idx[-1]) + 1 - n_old, np.nan)
        vs = np.where(np.isfinite(vs), vs, np.nan)
        new[idx - n_old] = vs
        self.y_ = np.concatenate([self.y_, new])
        if np.any(vs < 0):
            self.nonneg_ = False
        self._update(new)
        return self

    def forecast(self, horizon_steps: int) -> Forecast:
        """Forecast ``horizon_steps`` grid steps after the end of the history."""
        self._require_fitted()
        h = int(horizon_steps)
        if h != horizon_steps or h < 1:
            raise BadInput(f"horizon_steps must be a positive integer, got {horizon_steps}", field="horizon_steps")
        if h > self.y_.shape[0]:
            raise BadInput(
                f"horizon of {h} steps is longer than the {self.y_.shape[0]} steps of history; "
                "fit on at least as much history as the horizon",
                field="horizon_steps",
            )
        mean, lower, upper = self._forecast(h)
        mean = self._finite(mean, self.last_value())
        lower = self._finite(lower, mean)
        upper = self._finite(upper, mean)
        if self.nonneg_:
            mean, lower, upper = (np.maximum(a, 0.0) for a in (mean, lower, upper))
        mean = _snap_tiny(mean, self.y_)
        lower = np.minimum(lower, mean)
        upper = np.maximum(upper, mean)
        n = self.y_.shape[0]
        ts = self.t0_ + self.step_ * np.arange(n, n + h, dtype=np.float64)
        why = implausible(self.y_, mean, upper)
        if why is not None and self.name != "seasonal_naive":
            return self._fallback(h, why, range_excess(self.y_, mean))
        return Forecast(ts, mean, lower, upper, level=self.level, model=self.name)

    def _fallback(self, h: int, why: str, excess: float) -> Forecast:
        """The seasonal naive forecast of the same history, saying which model it replaces and why
        (``excess``: how far the replaced point forecast left the history's range, in ranges; near 0 when its
        band's upper bound made the guard fire, as ``why`` says)."""
        fb = FORECASTERS.get("seasonal_naive")(level=self.level, step=self.step_)
        fb.fit(self.timestamps_(0, self.y_.shape[0]), self.y_)
        fc = fb.forecast(h)
        meta = {"fallback_from": self.name, "reason": why, "excess": excess}
        return Forecast(fc.timestamps, fc.mean, fc.lower, fc.upper, level=fc.level, model=fc.model, meta=meta)

    # ---- helpers for subclasses -------------------------------------------------------

    def last_value(self) -> float:
        ok = ~np.isnan(self.y_)
        return float(self.y_[ok][-1]) if ok.any() else 0.0

    def timestamps_(self, start: int, stop: int) -> FloatArray:
        """Grid timestamps of history indices ``start .. stop-1`` (may run past the end)."""
        return self.t0_ + self.step_ * np.arange(start, stop, dtype=np.float64)

    @staticmethod
    def _finite(a: FloatArray, fallback: FloatArray | float) -> FloatArray:
        a = np.asarray(a, dtype=np.float64)
        fb = np.broadcast_to(np.asarray(fallback, dtype=np.float64), a.shape)
        return np.where(np.isfinite(a), a, fb)

    def _require_fitted(self) -> None:
        if not self._fitted:
            raise ModelError(f"{self.name}: call fit() before forecast() or update()")

    # ---- hooks ------------------------------------------------------------------------

    @abc.abstractmethod
    def _fit(self, y: FloatArray) -> None: ...

    @abc.abstractmethod
    def _forecast(self, h: int) -> tuple[FloatArray, FloatArray, FloatArray]: ...

    def _update(self, new: FloatArray) -> None:
        """Absorb new observations (already appended to ``self.y_``); stateless models need nothing."""
        return None


def _snap_tiny(values: FloatArray, history: FloatArray) -> FloatArray:
    """``values`` with rounding residue (below 1e-9 of the history's largest magnitude) set to 0: a model of a
    series idle at 0 forecasts 0, not 1.8e-18 (which sMAPE would score as a 200 % miss).

    >>> _snap_tiny(np.array([1.8e-18, 0.5]), np.array([0.0, 3.0])).tolist()
    [0.0, 0.5]
    """
    ok = history[np.isfinite(history)]
    tiny = 1e-9 * float(np.max(np.abs(ok))) if ok.size else 0.0
    return np.where(np.abs(values) < tiny, 0.0, values)


#: a forecast further than this many times the history's own range from it is not believed
PLAUSIBLE_RANGES = 10.0


def one_range_bounds(lo: float, hi: float, *, floor: float | None = None) -> tuple[float, float]:
    """Where a model's point forecast may go: one range (``hi - lo``) beyond each end of the history's values,
    not below ``floor`` when given.  Holt-Winters and gradient boosting both keep to it, in the data's own units.

    >>> one_range_bounds(10.0, 14.0), one_range_bounds(1.0, 3.0, floor=0.0)
    ((6.0, 18.0), (0.0, 5.0))
    """
    span = max(hi - lo, 1e-9)
    low = lo - span
    return (low if floor is None else max(low, floor)), hi + span


def range_excess(history: FloatArray, values: FloatArray) -> float:
    """How far ``values`` go outside the real values of ``history``, in multiples of the history's range
    (0 inside it).  The range is ``max - min``, or the largest magnitude when that is larger (a flat
    history still has a scale).  :func:`implausible` refuses a forecast beyond :data:`PLAUSIBLE_RANGES`.

    >>> range_excess(np.array([10.0, 12.0, 11.0, 13.0]), np.array([12.0, 143.0]))
    10.0
    >>> range_excess(np.array([10.0, 13.0]), np.array([11.0])), range_excess(np.array([np.nan]), np.array([5.0]))
    (0.0, 0.0)
    """
    ok = history[np.isfinite(history)]
    v = values[np.isfinite(values)]
    if ok.size == 0 or v.size == 0:
        return 0.0
    lo, hi = float(ok.min()), float(ok.max())
    span = max(hi - lo, abs(hi), abs(lo), 1e-12)
    return max(0.0, (float(v.max()) - hi) / span, (lo - float(v.min())) / span)


def implausible(history: FloatArray, mean: FloatArray, upper: FloatArray) -> str | None:
    """Why a forecast cannot be believed (it leaves the history's range by more than
    :data:`PLAUSIBLE_RANGES` times that range), or ``None``.

    >>> y = np.array([10.0, 12.0, 11.0, 13.0])
    >>> implausible(y, np.array([12.0]), np.array([14.0])) is None
    True
    >>> implausible(y, np.array([500.0]), np.array([510.0]))
    'forecast reaches 500 where the history spans 10 .. 13'
    >>> implausible(y, np.array([12.0]), np.array([500.0]))
    "forecast's upper bound reaches 500 where the history spans 10 .. 13"
    """
    ok = history[np.isfinite(history)]
    if ok.size == 0:
        return None
    lo, hi = float(ok.min()), float(ok.max())
    top_mean, top_upper = float(np.max(mean)), float(np.max(upper))
    bottom = float(np.min(mean))
    if range_excess(history, np.array([top_mean])) > PLAUSIBLE_RANGES:
        return f"forecast reaches {top_mean:.4g} where the history spans {lo:.4g} .. {hi:.4g}"
    if range_excess(history, np.array([top_upper])) > PLAUSIBLE_RANGES:
        return f"forecast's upper bound reaches {top_upper:.4g} where the history spans {lo:.4g} .. {hi:.4g}"
    if range_excess(history, np.array([bottom])) > PLAUSIBLE_RANGES:
        return f"forecast falls to {bottom:.4g} where the history spans {lo:.4g} .. {hi:.4g}"
    return None


#: every forecaster, by name; ``FORECASTERS.get(name)()`` builds one with its default config
FORECASTERS: Registry[type[Forecaster]] = Registry("forecaster")


def seasonal_lag_index(target: npt.NDArray[np.int64], last: int, m: int) -> npt.NDArray[np.int64]:
    """For target indices after ``last``, the most recent index <= ``last`` at the same phase mod ``m``."""
    k = np.ceil((target - last) / m).astype(np.int64)
    return np.asarray(target - np.maximum(k, 1) * m, dtype=np.int64)

"""Forecast accuracy (sMAPE, MASE), rolling-origin backtests and automatic model choice.

MASE here divides a model's mean absolute error by the in-sample mean absolute error of the seasonal
naive forecast of period ``m`` on the fitting data (Hyndman & Koehler 2006), so every model judged on a
series shares one scale.  Gaps (NaN) are skipped in both.

>>> import numpy as np
>>> round(smape(np.array([100.0, 200.0]), np.array([110.0, 180.0])), 2)
10.03
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from hx.errors import BadInput, HxError
from hx.forecast.base import DAY_S, FORECASTERS, FloatArray, Forecaster, range_excess, regularize


def smape(actual: FloatArray, pred: FloatArray) -> float:
    """Symmetric MAPE in percent (0..200); points where both are 0 count as exact; NaN actuals skipped."""
    a = np.asarray(actual, dtype=np.float64)
    f = np.asarray(pred, dtype=np.float64)
    ok = ~(np.isnan(a) | np.isnan(f))
    if not ok.any():
        return float("nan")
    a, f = a[ok], f[ok]
    den = np.abs(a) + np.abs(f)
    terms = np.where(den > 0, 2.0 * np.abs(f - a) / np.where(den > 0, den, 1.0), 0.0)
    return float(100.0 * terms.mean())


def mase_scale(history: FloatArray, m: int) -> float:
    """In-sample MAE of the seasonal naive forecast with period ``m`` steps (gaps skipped).

    >>> mase_scale(np.array([1.0, 2.0, 4.0, np.nan, 8.0]), 1)
    1.5
    """
    y = np.asarray(history, dtype=np.float64)
    if m < 1 or y.shape[0] <= m:
        raise BadInput(f"need more than {m} points to scale MASE with period {m}", field="history")
    d = np.abs(y[m:] - y[:-m])
    d = d[~np.isnan(d)]
    if d.size == 0 or d.mean() == 0:
        raise BadInput("the seasonal naive makes no error on this history: MASE is undefined", field="history")
    return float(d.mean())


def mase_scale_for(history: FloatArray, m: int, whole: FloatArray | None = None) -> tuple[float, str]:
    """:func:`mase_scale` of ``history`` with period ``m``, with what the scale is; when the seasonal naive makes no
    error on ``history`` (a service idle at the same hours each day, say), the one-step naive's; when the history
    is constant, the seasonal naive's over ``whole`` (the history and the data judged after it).  The scale is one
    number for every candidate, so the ranking is the same whichever it is; only the figure's meaning changes.
    Refused, saying so, when even ``whole`` gives no error to scale by.

    >>> mase_scale_for(np.array([0.0, 0.0, 5.0, 0.0, 0.0, 6.0]), 3)
    (0.3333333333333333, 'in-sample seasonal naive')
    >>> mase_scale_for(np.array([0.0, 0.0, 5.0, 0.0, 0.0, 5.0]), 3)[0]
    3.0
    >>> mase_scale_for(np.zeros(6), 3, np.array([0.0] * 6 + [1.0, 0.0, 2.0]))
    (0.5, 'seasonal naive over the whole series (the fitting data is constant)')
    """
    try:
        return mase_scale(history, m), "in-sample seasonal naive"
    except BadInput as seasonal:
        for y, period, basis in (
            (history, 1, "in-sample one-step naive (the seasonal naive makes no error on the fitting data)"),
            (whole, m, "seasonal naive over the whole series (the fitting data is constant)"),
        ):
            if y is None:
                continue
            try:
                return mase_scale(y, period), basis
            except BadInput:
                continue
        raise BadInput(
            "the series is constant: no naive forecast makes an error to scale MASE by", field="history"
        ) from seasonal


def mase(actual: FloatArray, pred: FloatArray, scale: float) -> float:
    a = np.asarray(actual, dtype=np.float64)
    f = np.asarray(pred, dtype=np.float64)
    ok = ~(np.isnan(a) | np.isnan(f))
    if not ok.any():
        return float("nan")
    return float(np.abs(a[ok] - f[ok]).mean() / scale)


@dataclass
class RollingResult:
    """Forecasts from every origin of a rolling backtest: ``pred[i, h-1]`` made at ``origins[i]``."""

    origins: npt.NDArray[np.int64]
    pred: FloatArray
    actual: FloatArray
    lower: FloatArray
    upper: FloatArray
    #: how far each origin's point forecast left the history's range, in ranges, before the guard
    excess: FloatArray = field(default_factory=lambda: np.zeros(0))
    #: whether the plausibility guard replaced the model's forecast at each origin
    fell_back: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def guard_summary(self) -> dict[str, float]:
        """The largest excess over the history's range (in ranges) and how often the guard fired."""
        return {
            "max_range_excess": float(self.excess.max()) if self.excess.size else 0.0,
            "guard_fired": float(self.fell_back.sum()),
        }

    def coverage_at(self, h: int) -> float:
        """Share of real actuals inside the forecast interval at horizon ``h``."""
        a = self.actual[:, h - 1]
        ok = ~np.isnan(a)
        inside = (a >= self.lower[:, h - 1]) & (a <= self.upper[:, h - 1])
        return float(inside[ok].mean()) if ok.any() else float("nan")

    def errors_at(self, h: int, scale: float) -> tuple[float, float]:
        """(sMAPE %, MASE) at horizon ``h`` steps."""
        return smape(self.actual[:, h - 1], self.pred[:, h - 1]), mase(
            self.actual[:, h - 1], self.pred[:, h - 1], scale
        )


def rolling_forecasts(
    model: Forecaster, ts: FloatArray, y: FloatArray, start: int, stop: int, horizon: int, every: int = 1
) -> RollingResult:
    """Fit on ``y[:start]``, then for each origin ``o`` in ``start..stop-1`` (every ``every`` steps)
    forecast ``horizon`` steps from the data before ``o`` and only then feed ``y[o:o+every]`` in.

    ``ts``/``y`` must be on a regular grid (see :func:`~hx.forecast.regularize`).  No look-ahead: the
    parameters are learnt on the fitting part only; the state follows the data through ``update``.
    """
    if not 0 < start < stop <= y.shape[0]:
        raise BadInput(f"need 0 < start < stop <= {y.shape[0]}, got {start}, {stop}", field="start")
    m = model.clone().fit(ts[:start], y[:start])
    origins = np.arange(start, stop, every, dtype=np.int64)
    pred = np.full((origins.size, horizon), np.nan)
    lower = np.full((origins.size, horizon), np.nan)
    upper = np.full((origins.size, horizon), np.nan)
    actual = np.full((origins.size, horizon), np.nan)
    excess = np.zeros(origins.size)
    fell_back = np.zeros(origins.size, dtype=bool)
    for i, o in enumerate(origins):
        fc = m.forecast(horizon)
        pred[i], lower[i], upper[i] = fc.mean, fc.lower, fc.upper
        fell_back[i] = "fallback_from" in fc.meta
        excess[i] = float(fc.meta["excess"]) if fell_back[i] else range_excess(m.y_, fc.mean)
        k = min(horizon, y.shape[0] - o)
        actual[i, :k] = y[o : o + k]
        m.update(ts[o : o + every], y[o : o + every])
    return RollingResult(origins, pred, actual, lower, upper, excess, fell_back)


@dataclass
class BacktestScore:
    """Backtest errors of one candidate, averaged over folds and over the scored horizon steps."""

    name: str
    smape: float
    mase: float
    folds: list[dict[str, float]] = field(default_factory=list)
    error: str | None = None
    #: what MASE is scaled by (:func:`mase_scale_for`)
    scale: str = "in-sample seasonal naive"

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "smape": self.smape, "mase": self.mase, "folds": self.folds, "error": self.error,
                "mase_scale": self.scale}  # fmt: skip


def _candidates(candidates: Mapping[str, Forecaster] | Sequence[str]) -> dict[str, Forecaster]:
    if isinstance(candidates, Mapping):
        return dict(candidates)
    return {name: FORECASTERS.get(name)() for name in candidates}


def _fold_mean(folds: list[dict[str, float]], key: str) -> float:
    """The folds' mean of ``key``; weighted by their origins when they record them (a shorter last fold)."""
    vals = np.array([f[key] for f in folds])
    w = np.array([f.get("origins", 1.0) for f in folds])
    ok = ~np.isnan(vals)
    return float(np.sum(vals[ok] * w[ok]) / np.sum(w[ok])) if ok.any() else float("nan")


def select_model(
    timestamps: npt.ArrayLike,
    values: npt.ArrayLike,
    candidates: Mapping[str, Forecaster] | Sequence[str],
    horizon: int,
    folds: int = 3,
    *,
    fold_s: float = DAY_S,
    every: int = 1,
    season_s: float = DAY_S,
    score_at: Sequence[int] | None = None,
    full_horizon: bool = False,
) -> tuple[str, dict[str, BacktestScore]]:
    """Choose the candidate with the lowest rolling-origin backtest MASE.

    The last ``folds`` x ``fold_s`` seconds of the history are split into ``folds`` windows; for each,
    a clone of the candidate is fitted on everything before the window and forecasts ``horizon`` steps
    from every ``every``-th origin in it.  Errors are averaged over the horizon steps ``score_at``
    (default every step 1..horizon; pass ``(horizon,)`` to judge only the horizon that matters) and
    over the folds; MASE is scaled by the seasonal naive of period ``season_s`` on the data before the
    first window (by the one-step naive's when the seasonal naive makes none there: :func:`mase_scale_for`, recorded
    in each score's ``scale``).  A candidate that fails is kept in ``scores`` with its ``error`` and never chosen.

    ``full_horizon``: only origins whose whole horizon lies within the history (the last fold's later
    origins would otherwise be scored on their first steps alone); each fold records its number of
    ``origins``, and the folds are averaged weighted by them.

    Returns ``(best_name, scores)``.
    """
    ts, y = regularize(timestamps, values)
    step = float(ts[1] - ts[0]) if ts.size > 1 else 60.0
    fold_n = max(round(fold_s / step), horizon)
    first = y.shape[0] - folds * fold_n
    m = round(season_s / step)
    if folds < 1 or first <= max(m, horizon, 8):
        raise BadInput(
            f"{y.shape[0]} steps of history are too few for {folds} folds of {fold_n} steps after "
            f"at least {max(m, horizon, 8)} steps of fitting data",
            field="folds",
        )
    hs = list(range(1, horizon + 1)) if score_at is None else [int(h) for h in score_at]
    if not hs or not all(1 <= h <= horizon for h in hs):
        raise BadInput(f"score_at must be horizon steps in 1..{horizon}, got {score_at}", field="score_at")
    scale, basis = mase_scale_for(y[:first], m, y)
    scores: dict[str, BacktestScore] = {}
    for name, model in _candidates(candidates).items():
        per_fold: list[dict[str, float]] = []
        try:
            for k in range(folds):
                start = first + k * fold_n
                stop = min(start + fold_n, y.shape[0] - horizon + 1) if full_horizon else start + fold_n
                r = rolling_forecasts(model, ts, y, start, stop, horizon, every)
                errs = [r.errors_at(h, scale) for h in hs]
                per_fold.append(
                    {
                        "start": float(ts[start]),
                        "smape": float(np.nanmean([e[0] for e in errs])),
                        "mase": float(np.nanmean([e[1] for e in errs])),
                        **r.guard_summary(),
                        **({"origins": float(r.origins.size)} if full_horizon else {}),
                    }
                )
        except HxError as err:  # the candidate cannot handle this series: say why, never pick it
            scores[name] = BacktestScore(name, float("nan"), float("nan"), per_fold, error=str(err), scale=basis)
            continue
        mean_mase = _fold_mean(per_fold, "mase")
        scores[name] = BacktestScore(name, _fold_mean(per_fold, "smape"), mean_mase, per_fold, scale=basis)
    ok = {n: s for n, s in scores.items() if s.error is None and np.isfinite(s.mase)}
    if not ok:
        reasons = "; ".join(f"{n}: {s.error}" for n, s in scores.items())
        raise BadInput(f"no candidate could be backtested on this series ({reasons})", field="candidates")
    best = min(ok, key=lambda n: (ok[n].mase, n))
    return best, scores

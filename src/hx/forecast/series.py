"""Forecasting a series: cleaning raw history onto a grid, and one fit-and-forecast for the API and the CLI."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from hx.errors import BadInput
from hx.forecast.base import FORECASTERS, Forecast, regularize

FloatArray = npt.NDArray[np.float64]


def clean_history(
    timestamps: npt.ArrayLike, values: npt.ArrayLike, grid_s: float | None, *, rates: bool = True
) -> tuple[FloatArray, FloatArray]:
    """Sorted, de-duplicated, on a ``grid_s`` grid; NaN and inf become gaps, and so do negative values of a rate
    (``rates``; a signal that may be negative, a KPI's say, keeps them).

    >>> t, v = clean_history([600.0, 0.0, 300.0, 300.0], [3.0, -1.0, float("inf"), 2.0], 300.0)
    >>> t.tolist(), v.tolist()
    ([0.0, 300.0, 600.0], [nan, 2.0, 3.0])
    >>> clean_history([0.0, 300.0], [-1.0, 2.0], 300.0, rates=False)[1].tolist()
    [-1.0, 2.0]
    """
    vs = np.asarray(values, dtype=np.float64).ravel()
    vs = np.where(np.isfinite(vs) & ((vs >= 0) | (not rates)), vs, np.nan)
    return regularize(timestamps, vs, grid_s)


def forecast_grid(timestamps: npt.ArrayLike, finest_s: float = 300.0) -> float:
    """The step a series is forecast at: its own (the median spacing of its distinct timestamps) when that is at
    least ``finest_s``, else ``finest_s`` (finer rows are averaged into it).  An hourly series laid on a 5-minute
    grid would be eleven gaps in every twelve points.

    >>> forecast_grid([0.0, 60.0, 120.0]), forecast_grid([0.0, 3600.0, 7200.0, 7200.0])
    (300.0, 3600.0)
    """
    t = np.unique(np.asarray(timestamps, dtype=np.float64).ravel())
    d = np.diff(t[np.isfinite(t)])
    d = d[d > 0]
    own = float(np.median(d)) if d.size else finest_s
    return max(finest_s, own)


def forecast_series(
    timestamps: npt.ArrayLike,
    values: npt.ArrayLike,
    horizon_s: float,
    *,
    model: str = "holt_winters",
    grid_s: float | None = None,
    rates: bool = True,
) -> Forecast:
    """Fit ``model`` on a series and forecast ``horizon_s`` ahead (pure; for the API and the CLI).

    A horizon longer than the history is :class:`~hx.errors.BadInput` (here the caller asked for it).
    ``rates``: negative values are gaps (see :func:`clean_history`).
    """
    if not (math.isfinite(horizon_s) and horizon_s > 0):
        raise BadInput(f"horizon must be > 0 seconds, got {horizon_s}", field="horizon")
    t, v = clean_history(timestamps, values, grid_s, rates=rates) if grid_s else regularize(timestamps, values)
    if t.size < 2:
        raise BadInput("need at least two points of history to forecast", field="values")
    step = float(t[1] - t[0])
    fc = FORECASTERS.get(model)(step=step).fit(t, v)
    return fc.forecast(max(1, math.ceil(horizon_s / step)))

"""Forecasting a series: cleaning raw history onto a grid, and one fit-and-forecast for the API and the CLI."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from hx.errors import BadInput
from hx.forecast.base import FORECASTERS, Forecast, regularize

FloatArray = npt.NDArray[np.float64]


def clean_history(
    timestamps: npt.ArrayLike, values: npt.ArrayLike, grid_s: float | None
) -> tuple[FloatArray, FloatArray]:
    """Sorted, de-duplicated, on a ``grid_s`` grid; NaN, inf and negative rates become gaps.

    >>> t, v = clean_history([600.0, 0.0, 300.0, 300.0], [3.0, -1.0, float("inf"), 2.0], 300.0)
    >>> t.tolist(), v.tolist()
    ([0.0, 300.0, 600.0], [nan, 2.0, 3.0])
    """
    vs = np.asarray(values, dtype=np.float64).ravel()
    vs = np.where(np.isfinite(vs) & (vs >= 0), vs, np.nan)
    return regularize(timestamps, vs, grid_s)


def forecast_series(
    timestamps: npt.ArrayLike,
    values: npt.ArrayLike,
    horizon_s: float,
    *,
    model: str = "holt_winters",
    grid_s: float | None = None,
) -> Forecast:
    """Fit ``model`` on a series and forecast ``horizon_s`` ahead (pure; for the API and the CLI).

    A horizon longer than the history is :class:`~hx.errors.BadInput` (here the caller asked for it).
    """
    if not (math.isfinite(horizon_s) and horizon_s > 0):
        raise BadInput(f"horizon must be > 0 seconds, got {horizon_s}", field="horizon")
    t, v = clean_history(timestamps, values, grid_s) if grid_s else regularize(timestamps, values)
    if t.size < 2:
        raise BadInput("need at least two points of history to forecast", field="values")
    step = float(t[1] - t[0])
    fc = FORECASTERS.get(model)(step=step).fit(t, v)
    return fc.forecast(max(1, math.ceil(horizon_s / step)))

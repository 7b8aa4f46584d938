"""A forecast of a user's series as ``hx forecast --json`` and ``POST /api/v1/forecasts`` answer it.

:func:`forecast_report` lays the series on its grid (:func:`~hx.forecast.series.forecast_grid`: the rows' own
step from 5 minutes up, finer rows averaged into 5 minutes), forecasts it with the model asked for (the
plausibility guard may replace it by seasonal naive, saying why) and, with ``evaluate``, backtests that model
and the cheap candidates with rolling origins over the last (up to) three days (:func:`evaluate`): MASE
against seasonal naive on every step of the horizon, the farthest forecast outside the history's range and
how often the guard fired.  One function, so that the command line and the API give the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from hx.errors import BadInput
from hx.forecast.base import FORECASTERS
from hx.forecast.series import clean_history, forecast_grid, forecast_series
from hx.readers import repeat_note

#: the models an evaluation backtests besides the one asked for (gbt, combination and lstm refit often: add them
#: as candidates when minutes of CPU are acceptable)
EVAL_MODELS = ("seasonal_naive", "naive", "holt_winters")
#: how many forecast origins an evaluation spreads over its span: enough that no handful of hours decides, few
#: enough that the slower candidates stay within seconds
MIN_EVAL_ORIGINS = 12
MAX_EVAL_ORIGINS = 96


def check_model(name: str, field: str) -> None:
    """Refuse a model name the forecaster registry does not hold, naming ``field`` and the names it takes."""
    if name not in FORECASTERS:
        raise BadInput(f"{field} must be one of {', '.join(FORECASTERS.names())}, got {name!r}", field=field)


def forecast_report(
    timestamps: npt.ArrayLike,
    values: npt.ArrayLike,
    horizon_s: float,
    *,
    model: str = "holt_winters",
    label: str = "series",
    evaluate: bool = False,
    candidates: Sequence[str] = (),
    rates: bool = False,
    field: str = "values",
) -> dict[str, Any]:
    """The forecast of one series, ``horizon_s`` ahead, as a JSON-ready document (see the module docstring).

    ``rates``: negative values are gaps (a request rate); a user's signal keeps them.  ``field`` is what a
    refusal for too little history names.
    """
    if not (math.isfinite(horizon_s) and horizon_s > 0):
        raise BadInput(f"the horizon must be a positive number of seconds, got {horizon_s:g}", field="horizon")
    check_model(model, "model")
    for name in candidates:
        check_model(name, "candidates")
    ts = np.asarray(timestamps, dtype=np.float64).ravel()
    vs = np.asarray(values, dtype=np.float64).ravel()
    if ts.size != vs.size:
        raise BadInput(f"{ts.size} timestamps but {vs.size} values", field=field)
    grid = forecast_grid(ts) if ts.size else 300.0
    try:
        fc = forecast_series(ts, vs, horizon_s, model=model, grid_s=grid, rates=rates)
    except BadInput as err:  # too little history, most often: name what was read
        span = (float(np.nanmax(ts)) - float(np.nanmin(ts))) / 60.0 if ts.size else 0.0
        msg = f"{label}: {ts.size} rows over {span:.0f} min; on the forecast's {duration(grid)} grid, {err}"
        raise BadInput(msg, field=field) from err
    rows = [
        {"at": _iso(float(t)), "mean": float(m), "lower": float(lo), "upper": float(hi)}
        for t, m, lo, hi in zip(fc.timestamps, fc.mean, fc.lower, fc.upper, strict=True)
    ]
    data: dict[str, Any] = {"series": label, "model": fc.model, "level": fc.level, "horizon_s": horizon_s,
                            "grid_s": grid, "grid": grid_note(ts, grid), "forecast": rows}  # fmt: skip
    if "fallback_from" in fc.meta:
        data["fallback"] = fc.meta
    if evaluate:
        try:
            data["eval"] = evaluation(ts, vs, horizon_s, [model, *candidates], grid, rates)
        except BadInput as err:  # the forecast stands; the backtest cannot be scored (too short, constant)
            raise BadInput(f"{label}: the evaluation cannot be made: {err} (without it the forecast can)",
                           field="eval") from err  # fmt: skip
    return data


def evaluation(
    ts: npt.ArrayLike,
    vs: npt.ArrayLike,
    horizon_s: float,
    models: Sequence[str],
    grid_s: float = 300.0,
    rates: bool = True,
) -> dict[str, Any]:
    """Rolling-origin MASE of each model over the last (up to) three days, refitted each day, scored on every step
    of the horizon, against seasonal naive; on the forecast's grid."""
    from hx.forecast.backtest import select_model

    t, v = clean_history(ts, vs, grid_s, rates=rates)
    h = max(1, math.ceil(horizon_s / grid_s))
    names = list(dict.fromkeys([*EVAL_MODELS, *models]))
    per_day = round(86400.0 / grid_s)
    folds = min(3, (t.size - per_day - 1) // per_day)  # a fold a day, after more than a day (a season) of fitting
    if folds < 1:
        raise BadInput(
            f"an evaluation needs at least two days of history; this series spans {t.size * grid_s / 86400.0:.1f} "
            "day(s)",
            field="eval",
        )
    every = eval_spacing(folds * max(per_day, h) - h + 1, h)
    best, scores = select_model(t, v, names, h, folds=folds, every=every, full_horizon=True)
    ref = scores["seasonal_naive"].mase
    out = []
    for name, sc in scores.items():
        vs_ref = sc.mase / ref if sc.error is None and ref > 1e-9 else None
        out.append({"model": name, "mase": sc.mase, "smape": sc.smape, "vs_seasonal_naive": vs_ref,
                    "error": sc.error, **_guard(sc.folds)})  # fmt: skip
    return {
        "horizon_steps": h,
        "grid_s": grid_s,
        "scored_steps": [1, h],
        "folds": folds,
        "origins": int(sum(f.get("origins", 0.0) for f in scores["seasonal_naive"].folds)),
        "origin_every_steps": every,
        "best": best,
        "forecast_model": models[0],
        "mase_scale": scores["seasonal_naive"].scale,
        "models": out,
    }


def eval_spacing(span: int, horizon: int) -> int:
    """Steps between an evaluation's origins over ``span`` possible origins: a quarter of the horizon, closer when
    that gives fewer than :data:`MIN_EVAL_ORIGINS`, farther when it gives more than :data:`MAX_EVAL_ORIGINS`.

    >>> eval_spacing(864, 12), eval_spacing(864, 288), eval_spacing(40, 12)
    (9, 72, 3)
    """
    return max(1, math.ceil(span / MAX_EVAL_ORIGINS), min(horizon // 4, span // MIN_EVAL_ORIGINS))


def _guard(folds: list[dict[str, float]]) -> dict[str, float]:
    """Over a model's backtest folds: its largest forecast outside the history's range (in ranges, before the
    plausibility guard) and how often the guard replaced it by seasonal naive."""
    return {
        "max_range_excess": max((f.get("max_range_excess", 0.0) for f in folds), default=0.0),
        "guard_fired": sum(f.get("guard_fired", 0.0) for f in folds),
    }


def grid_note(ts: npt.ArrayLike, grid_s: float) -> str:
    """What grid the forecast is on, and whether the rows were averaged into it.

    >>> grid_note([0.0, 60.0, 120.0], 300.0)
    'forecast on a 5 min grid: the rows (1 min apart) are averaged into it'
    >>> grid_note([0.0, 300.0, 300.0, 600.0], 300.0)
    "forecast at the rows' own step, 5 min; 1 row repeats an earlier row's time: averaged with it"
    """
    t = np.asarray(ts, dtype=np.float64)
    own = forecast_grid(t, finest_s=0.0) if t.size > 1 else grid_s
    if own < grid_s - 1e-6:
        note = f"forecast on a {duration(grid_s)} grid: the rows ({duration(own)} apart) are averaged into it"
    else:
        note = f"forecast at the rows' own step, {duration(grid_s)}"
    repeats = repeat_note(t)
    return f"{note}; {repeats}" if repeats else note


def duration(seconds: float) -> str:
    """
    >>> duration(300.0), duration(3600.0), duration(3 * 86400.0)
    ('5 min', '1 h', '3 days')
    """
    if seconds < 3600.0:
        return f"{seconds / 60.0:g} min"
    return f"{seconds / 3600.0:g} h" if seconds < 2 * 86400.0 else f"{seconds / 86400.0:g} days"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="minutes")

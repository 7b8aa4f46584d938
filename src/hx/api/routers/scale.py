"""predictive-scaler routes: a forecast with its band, the current recommendations, the scaling decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hx.api.auth import authorize, register_roles
from hx.api.schemas import Instant, Number
from hx.errors import BadInput, NotFound, TelemetryError, Unsupported
from hx.events import EventType, ScalingDecided
from hx.forecast import FORECASTERS
from hx.forecast.series import forecast_series
from hx.platform import Platform
from hx.scale.component import KEY
from hx.scale.engine import PredictiveScaler
from hx.security.roles import Role

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], tags=["predictive-scaler"])

register_roles(
    {
        ("GET", "/api/v1/forecasts"): Role.VIEWER,
        ("POST", "/api/v1/forecasts"): Role.OPERATOR,
        ("GET", "/api/v1/scaling/recommendations"): Role.VIEWER,
        ("GET", "/api/v1/scaling/decisions"): Role.VIEWER,
    }
)

#: history read for an ad-hoc forecast, and its grid
HISTORY = timedelta(days=14)
GRID_S = 300.0


def _engine(p: Platform) -> PredictiveScaler | None:
    return p.services.get(KEY, PredictiveScaler)


@router.get("/forecasts")
def forecasts(
    request: Request,
    service: str = Query(..., min_length=1),
    signal: str = Query("request_rate", min_length=1),
    horizon: int = Query(3600, gt=0, le=7 * 86400, description="seconds ahead"),
    model: str | None = None,
) -> dict[str, Any]:
    """Forecast a service's signal ``horizon`` seconds ahead from its last 14 days, with the interval band."""
    p: Platform = request.app.state.platform
    if p.source is None:
        raise Unsupported("no signal source is configured (telemetry.source)", field="service")
    name = model or "holt_winters"
    if name not in FORECASTERS:
        raise BadInput(f"model must be one of {', '.join(FORECASTERS.names())}, got {name!r}", field="model")
    now = p.clock.now()
    s = p.source.signal(service, signal, now - HISTORY, now, GRID_S)
    if s.last() is None:
        raise BadInput(f"no {signal} data for {service} in the last {HISTORY.days} days", field="service")
    fc = forecast_series(s.timestamps, s.values, float(horizon), model=name, grid_s=GRID_S)
    # times in ISO 8601 like every other time in the API (the forecaster's own arrays are unix seconds)
    times = [datetime.fromtimestamp(float(t), UTC).isoformat() for t in fc.timestamps]
    return {"service": service, "signal": signal, "horizon_s": horizon, "issued_at": now.isoformat(),
            "history_points": len(s), **fc.to_dict(), "timestamps": times}  # fmt: skip


class SeriesForecastRequest(BaseModel):
    """A user's series to forecast, as ``hx forecast --trace FILE [--eval]`` forecasts a file."""

    model_config = ConfigDict(extra="forbid")

    timestamps: list[Number] = Field(
        min_length=2,
        max_length=200_000,
        description="Unix times: seconds, or milliseconds, microseconds or nanoseconds (read from their size); or "
        "a row index (0, 1, 2 ...) with step_s",
    )
    step_s: float | None = Field(
        None, gt=0, le=86400, description="with a row index as timestamps: the seconds between rows"
    )
    values: list[Number | None] = Field(description="one per timestamp (null: a gap)")
    horizon_s: float = Field(3600.0, gt=0, le=7 * 86400, description="seconds ahead")
    model: str = Field("holt_winters", description="the forecaster (holt_winters, seasonal_naive, naive, gbt, ...)")
    eval: bool = Field(
        False,
        description="also backtest the model and seasonal naive, naive and holt_winters with rolling origins over "
        "the last (up to) three days: MASE against seasonal naive on every step of the horizon",
    )
    candidates: list[str] = Field([], max_length=6, description="with eval: other models to backtest")
    rates: bool = Field(False, description="a rate: negative values are gaps (a user's signal keeps them)")
    label: str = Field("series", max_length=200, description="the series' name in the answer")


class ForecastPoint(BaseModel):
    """One step of the forecast: the mean and the band."""

    at: str = Field(description="ISO 8601, UTC")
    mean: float
    lower: float
    upper: float


class ForecastFallback(BaseModel):
    """The plausibility guard replaced the model's forecast by seasonal naive."""

    fallback_from: str = Field(description="the model whose forecast was replaced")
    reason: str
    excess: float | None = Field(
        description="how far the replaced point forecast left the history's range, in ranges (near 0 when the "
        "band's upper bound fired the guard, as the reason says)"
    )


class ModelScore(BaseModel):
    """One model's rolling-origin backtest."""

    model: str
    mase: float | None = Field(description="mean absolute scaled error (seasonal naive's in-sample error = 1)")
    smape: float | None
    vs_seasonal_naive: float | None = Field(description="MASE over seasonal naive's: below 1 is better")
    error: str | None = Field(description="why the model could not be backtested")
    max_range_excess: float | None = Field(description="its largest forecast outside the history's range, in ranges")
    guard_fired: float = Field(description="backtest forecasts the guard replaced by seasonal naive")


class ForecastEvaluation(BaseModel):
    """The rolling-origin backtest of ``eval``: every step of the horizon scored, against seasonal naive."""

    horizon_steps: int
    grid_s: float
    scored_steps: list[int] = Field(description="the first and last step of the horizon scored")
    folds: int
    origins: int
    origin_every_steps: int
    best: str = Field(description="the model with the lowest MASE")
    forecast_model: str = Field(description="the model the forecast used")
    mase_scale: str = Field(description="what MASE is scaled by (seasonal naive's in-sample error, or ...)")
    models: list[ModelScore]


class ForecastAnswer(BaseModel):
    """A series' forecast, as ``hx forecast --json`` prints it."""

    series: str
    model: str
    level: float = Field(description="the band's coverage")
    horizon_s: float
    grid_s: float = Field(description="the seconds between forecast steps")
    grid: str = Field(description="the grid the forecast is on, and what was averaged into it")
    forecast: list[ForecastPoint]
    fallback: ForecastFallback | None = Field(None, description="when the plausibility guard fired")
    eval: ForecastEvaluation | None = Field(None, description="with eval: the backtest")


@router.post("/forecasts", response_model=ForecastAnswer, response_model_exclude_unset=True)
def forecast_series_route(body: SeriesForecastRequest) -> dict[str, Any]:
    """Forecast a series given in the body (its own step from 5 minutes up, finer rows averaged into 5 minutes),
    with the band, the grid it was laid on, the guard's fallback if it fired and, with ``eval``, the rolling-origin
    backtest: the same document as ``hx forecast --trace FILE --json``."""
    import numpy as np

    from hx.clock import EARLIEST, LATEST
    from hx.forecast.report import forecast_report
    from hx.readers import MIN_UNIX_S, index_seconds, spacing, step_contradicted, unix_seconds

    if len(body.values) != len(body.timestamps):
        raise BadInput(f"{len(body.timestamps)} timestamps but {len(body.values)} values", field="values")
    ts = unix_seconds(body.timestamps)
    if float(np.nanmax(ts)) < MIN_UNIX_S:  # before 1973: a row index or seconds from the start, not Unix times
        if body.step_s is None:
            raise BadInput(
                f"timestamps run {float(np.nanmin(ts)):g} .. {float(np.nanmax(ts)):g}: a row index, not Unix "
                "times; give step_s, the seconds between rows",
                field="step_s",
                expected="Unix times, or a row index with step_s",
            )
        ts = index_seconds(ts, body.step_s)
    elif float(np.nanmax(ts)) > LATEST.timestamp():  # Unix times, so within the era like every time hx takes
        late = int(np.nanargmax(ts))
        raise BadInput(
            f"timestamps.{late}: {body.timestamps[late]:g} is {datetime.fromtimestamp(float(ts[late]), UTC):%Y-%m-%d}, "
            f"outside the times hx takes ({EARLIEST.date()} to {LATEST.date()} UTC)",
            field=f"timestamps.{late}",
            expected="Unix times before 3000-01-01",
        )
    elif body.step_s is not None and step_contradicted(ts, body.step_s):  # a step_s real times contradict
        raise BadInput(
            f"timestamps are Unix times {spacing(ts)}, but step_s {body.step_s:g} was given: drop step_s (it is "
            "for a row index)",
            field="step_s",
        )
    vs = np.array([np.nan if v is None else v for v in body.values], dtype=np.float64)
    return forecast_report(ts, vs, body.horizon_s, model=body.model, label=body.label, evaluate=body.eval,
                           candidates=body.candidates, rates=body.rates, field="values")  # fmt: skip


@router.get("/scaling/recommendations")
def recommendations(request: Request, service: str | None = None) -> dict[str, Any]:
    """The scaler's latest recommendation per service (from the engine in this process, else its events)."""
    p: Platform = request.app.state.platform
    eng = _engine(p)
    if eng is not None:
        recs = eng.recommendations()
    else:
        latest: dict[str, dict[str, Any]] = {}
        for e in p.bus.read(types=[ScalingDecided], subject=service, limit=1000):
            latest[e.subject] = {**e.data, "event_id": e.id}
        recs = list(latest.values())
    if service is not None:
        recs = [r for r in recs if r.get("service") == service]
        if not recs:
            _known(p, service)
    return {"recommendations": recs}


def _known(p: Platform, service: str) -> None:
    """An unknown service is a 404 (as for /forecasts); a known one may just have no recommendation yet."""
    if p.source is None:
        return
    try:
        known = p.source.services()
    except TelemetryError:  # the source is down: the recommendations do not need it: answer empty
        return
    if service not in known:
        raise NotFound(f"unknown service {service!r}; known: {', '.join(sorted(known)[:20])}", field="service")


@router.get("/scaling/decisions")
def decisions(
    request: Request,
    service: str | None = None,
    type: str | None = Query(None, pattern="^(decided|acted)$"),
    since: Instant | None = None,
    after: int = Query(0, ge=0),
    limit: int = Query(200, ge=1, le=1000),
) -> dict[str, Any]:
    """``scaling.decided`` / ``scaling.acted`` events, oldest first (``after``: an event id cursor)."""
    p: Platform = request.app.state.platform
    types = [EventType(f"scaling.{type}")] if type else [EventType.SCALING_DECIDED.family]
    events = p.bus.read(after=after, types=types, subject=service, since=since, limit=limit)
    return {"decisions": [e.to_json() for e in events]}

"""anomaly-detector routes: ad-hoc scoring, the anomalies found, the detector configuration."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hx.api.auth import authorize, register_roles
from hx.api.schemas import Instant
from hx.detect import DETECTORS, effective_threshold, validate_series
from hx.detect.engine import list_anomalies, score_series
from hx.security.roles import Role

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], tags=["anomaly-detector"])

register_roles(
    {
        ("POST", "/api/v1/anomaly/score"): Role.VIEWER,
        ("GET", "/api/v1/anomalies"): Role.VIEWER,
        ("GET", "/api/v1/anomaly/config"): Role.VIEWER,
    }
)

MAX_POINTS = 200_000


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timestamps: list[float | str] = Field(min_length=2, max_length=MAX_POINTS, description="unix seconds or ISO-8601")
    values: list[float | str | None] = Field(min_length=2, max_length=MAX_POINTS)
    detector: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


@router.post("/anomaly/score")
def score(body: ScoreRequest, request: Request) -> dict[str, Any]:
    """Score a batch of points of an ad-hoc series as a stream (each point before it is learned)."""
    cfg = request.app.state.platform.settings.intelligent_monitoring.anomaly_detection
    name = body.detector or cfg.detector
    DETECTORS.get(name)
    vs = validate_series(body.timestamps, [np.nan if v is None else v for v in body.values])
    threshold = effective_threshold(cfg.alert_threshold, cfg.sensitivity)
    scores = score_series(vs.values, vs.timestamps, name, threshold, body.params)
    flagged = [int(i) for i in np.flatnonzero(scores >= threshold)]
    return {
        "detector": name,
        "threshold": threshold,
        "scores": [round(float(s), 6) for s in scores],
        "anomalies": flagged,
        "notes": {"gaps": vs.n_gaps, "irregular": vs.n_irregular, "constant": vs.constant, "step": vs.step},
    }


@router.get("/anomalies")
def anomalies(
    request: Request,
    service: str | None = None,
    signal: str | None = None,
    state: str | None = Query(None, pattern="^(open|resolved)$"),
    since: Instant | None = None,
    until: Instant | None = None,
    limit: int = Query(200, ge=1, le=1000),
) -> dict[str, Any]:
    p = request.app.state.platform
    return {"anomalies": list_anomalies(p, service, signal, state, since, until, limit)}


@router.get("/anomaly/config")
def config(request: Request) -> dict[str, Any]:
    cfg = request.app.state.platform.settings.intelligent_monitoring.anomaly_detection
    return {
        "detector": cfg.detector,
        "per_signal": {k: v.model_dump() for k, v in cfg.per_signal.items()},
        "signals": cfg.signals,
        "alert_threshold": cfg.alert_threshold,
        "sensitivity": cfg.sensitivity,
        "effective_threshold": effective_threshold(cfg.alert_threshold, cfg.sensitivity),
        "available": DETECTORS.names(),
    }

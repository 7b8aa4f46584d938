"""Anomaly labels: a person says whether an anomaly was real; detection precision is measured from them."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hx.api.auth import authorize, register_roles
from hx.detect.labels import label_anomaly, list_labels
from hx.security.roles import Role

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], tags=["anomaly-detector"])

register_roles(
    {
        ("POST", "/api/v1/anomalies/{anomaly_id}/label"): Role.OPERATOR,
        ("GET", "/api/v1/anomaly-labels"): Role.VIEWER,
    }
)


class AnomalyLabelBody(BaseModel):
    """The verdict: ``true_positive`` (a real problem) or ``false_positive`` (noise), and why."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal["true_positive", "false_positive"]
    note: str = Field("", max_length=2000)


@router.post("/anomalies/{anomaly_id}/label")
def label(body: AnomalyLabelBody, request: Request, anomaly_id: str = Path(max_length=200)) -> dict[str, Any]:
    """Say whether an anomaly was real (``true_positive``) or noise; a second label replaces the first."""
    p = request.app.state.platform
    return label_anomaly(p, anomaly_id, body.verdict == "true_positive", body.note, request.state.principal.actor)


@router.get("/anomaly-labels")
def labels(request: Request, service: str | None = None, limit: int = Query(200, ge=1, le=1000)) -> dict[str, Any]:
    return {"labels": list_labels(request.app.state.platform.store, service, limit)}

"""One service's timeline: deploys, anomalies, incidents, remediation and scaling with its key signal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from hx.api.auth import authorize, register_roles
from hx.api.schemas import Instant
from hx.errors import BadInput
from hx.security.roles import Role
from hx.timeline import grafana_annotations, timeline

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], tags=["timeline"])

register_roles({("GET", "/api/v1/timeline"): Role.VIEWER, ("GET", "/api/v1/annotations"): Role.VIEWER})


@router.get("/timeline")
def get_timeline(
    request: Request,
    subject: str = Query(..., min_length=1, max_length=200, description="the service"),
    since: Instant | None = Query(None, description="default: 24 h before until"),
    until: Instant | None = Query(None, description="default: now"),
    signal: str | None = Query(None, max_length=200, description="the key signal (default: latency_p95, ...)"),
) -> dict[str, Any]:
    """Events about ``subject`` in time order, and the series of its key signal over the same span."""
    return timeline(request.app.state.platform, subject, since, until, signal)


#: the last millisecond of year 9999, the latest time a datetime holds
MAX_EPOCH_MS = 253_402_300_799_999


@router.get("/annotations")
def get_annotations(
    request: Request,
    kind: str = Query("deploy", pattern="^(deploy|incident)$", description="deploy or incident"),
    from_ms: int = Query(
        ..., alias="from", ge=0, le=MAX_EPOCH_MS, description="epoch milliseconds (Grafana's ${__from})"
    ),
    to_ms: int = Query(..., alias="to", ge=0, le=MAX_EPOCH_MS, description="epoch milliseconds (Grafana's ${__to})"),
    service: str | None = Query(None, max_length=200),
) -> list[dict[str, Any]]:
    """Deploys or incidents over a span as Grafana annotations, for the dashboard in deploy/grafana/ (read by the
    Infinity data source: a JSON array of ``time``, ``title``, ``text``, ``tags``)."""
    if from_ms >= to_ms:
        raise BadInput(f"from {from_ms} is not before to {to_ms}", field="from")
    since, until = (datetime.fromtimestamp(ms / 1000, tz=UTC) for ms in (from_ms, to_ms))
    return grafana_annotations(request.app.state.platform, kind, since, until, service)

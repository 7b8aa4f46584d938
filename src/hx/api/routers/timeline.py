"""One service's timeline: deploys, anomalies, incidents, remediation and scaling with its key signal."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime

from hx.api.auth import authorize, register_roles
from hx.security.roles import Role
from hx.timeline import timeline

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], tags=["timeline"])

register_roles({("GET", "/api/v1/timeline"): Role.VIEWER})


@router.get("/timeline")
def get_timeline(
    request: Request,
    subject: str = Query(..., min_length=1, max_length=200, description="the service"),
    since: AwareDatetime | None = Query(None, description="default: 24 h before until"),
    until: AwareDatetime | None = Query(None, description="default: now"),
    signal: str | None = Query(None, max_length=200, description="the key signal (default: latency_p95, ...)"),
) -> dict[str, Any]:
    """Events about ``subject`` in time order, and the series of its key signal over the same span."""
    return timeline(request.app.state.platform, subject, since, until, signal)

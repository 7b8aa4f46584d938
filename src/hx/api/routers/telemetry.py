"""``GET /api/v1/telemetry/check``: what hx sees through its signal source (as ``hx telemetry check``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from hx.api.auth import authorize, register_roles
from hx.errors import Unsupported
from hx.platform import Platform
from hx.security.roles import Role
from hx.telemetry.discovery import check_telemetry

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], tags=["telemetry"])

register_roles({("GET", "/api/v1/telemetry/check"): Role.VIEWER})


@router.get("/telemetry/check")
def telemetry_check(
    request: Request,
    service: list[str] = Query([], max_length=50, description="check only these services"),
    stale_after_s: float = Query(300.0, ge=1.0, le=86400.0, description="a value older than this is stale"),
) -> dict[str, Any]:
    """Discovered services, versions, instances; every signal each enabled engine needs; the call graph.

    ``ok`` is false when a signal an enabled engine needs does not resolve (the CLI exits 1 then).
    """
    p: Platform = request.app.state.platform
    if p.source is None:
        raise Unsupported("no signal source is configured (telemetry.source)", field="telemetry.source")
    report = check_telemetry(
        p.source, p.settings, p.clock.now(), topology=p.topology, services=service, stale_after_s=stale_after_s
    )
    return report.to_dict()

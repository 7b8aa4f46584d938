"""continuous-improvement routes: KPIs, quality gates, optimisation cycles and model reviews."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from hx.api.auth import authorize, register_roles
from hx.improve import kpis as kpis_mod
from hx.improve import reports
from hx.improve.component import engine
from hx.ml.learners import LEARNERS
from hx.security.roles import Role

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], tags=["continuous-improvement"])

register_roles(
    {
        ("GET", "/api/v1/improve/kpis"): Role.VIEWER,
        ("GET", "/api/v1/improve/gates"): Role.VIEWER,
        ("GET", "/api/v1/improve/cycles"): Role.VIEWER,
        ("POST", "/api/v1/improve/cycles"): Role.OPERATOR,
        ("GET", "/api/v1/improve/models"): Role.VIEWER,
    }
)


def _platform(request: Request) -> Any:
    return request.app.state.platform


@router.get("/improve/kpis")
def kpis(request: Request) -> dict[str, Any]:
    """The platform's KPIs over the configured window, computed now from the store."""
    p = _platform(request)
    now = p.clock.now()
    window = p.settings.continuous_improvement.kpi_window_s
    values = kpis_mod.compute(kpis_mod.gather(p, now, window))
    return {"at": now.isoformat(), "window_s": window, "kpis": values, "definitions": kpis_mod.describe()}


@router.get("/improve/gates")
def gates(request: Request) -> dict[str, Any]:
    """Every quality gate against the KPIs now; model gates use the latest cycle's live accuracy."""
    return reports.gates_now(_platform(request))


@router.get("/improve/cycles")
def cycles(request: Request, limit: int = Query(10, ge=1, le=200)) -> dict[str, Any]:
    """Reports of past optimisation cycles, newest first."""
    return {"cycles": reports.recent(_platform(request), limit)}


@router.post("/improve/cycles")
def run_cycle(request: Request) -> dict[str, Any]:
    """Run one optimisation cycle now (gates, model reviews, retraining) and return its report."""
    eng = engine(_platform(request))
    eng.last = eng.cycle.run()
    return eng.last


@router.get("/improve/models")
def models(request: Request) -> dict[str, Any]:
    """Each improved model: versions and stages, and the latest cycle's live and shadow accuracy."""
    return {"models": reports.model_status(_platform(request), LEARNERS.names())}

"""ai-orchestrator routes: deployments and ad-hoc canary judgement."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hx.api.auth import authorize, register_roles
from hx.api.schemas import Number
from hx.deploy.component import service
from hx.deploy.judge import JudgeConfig, Verdict, history_note, judge, levels
from hx.deploy.judge_stats import blocks_of
from hx.deploy.records import DeploymentRepo
from hx.deploy.service import DeploymentRequest
from hx.errors import BadInput
from hx.security.roles import Role

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], tags=["ai-orchestrator"])

register_roles(
    {
        ("POST", "/api/v1/deployments"): Role.OPERATOR,
        ("GET", "/api/v1/deployments"): Role.VIEWER,
        ("GET", "/api/v1/deployments/{dep_id}"): Role.VIEWER,
        ("POST", "/api/v1/deployments/{dep_id}/approve"): Role.APPROVER,
        ("POST", "/api/v1/deployments/{dep_id}/pause"): Role.OPERATOR,
        ("POST", "/api/v1/deployments/{dep_id}/resume"): Role.OPERATOR,
        ("POST", "/api/v1/deployments/{dep_id}/promote"): Role.APPROVER,
        ("POST", "/api/v1/deployments/{dep_id}/abort"): Role.OPERATOR,
        ("POST", "/api/v1/deployments/{dep_id}/rollback"): Role.OPERATOR,
        ("POST", "/api/v1/canary/judge"): Role.OPERATOR,
    }
)


#: one metric's window: a value per interval, null for a gap (an empty one is refused, as the CLI refuses it)
Window = Annotated[list[Number | None], Field(min_length=1)]


class JudgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    baseline: dict[str, Window] = Field(description="metric -> values per interval (null: a gap)")
    canary: dict[str, Window] = Field(description="metric -> values per interval (null: a gap)")
    config: JudgeConfig
    history: dict[str, list[Number | None]] | None = Field(
        None,
        description="metric -> the baseline's values per interval before the canary started, used only to estimate "
        "autocorrelation and noise level (rollouts read 6 h)",
    )
    history_block_points: int = Field(
        240,
        ge=1,
        description="history is cut into blocks of this many points, each demeaned on its own (240 = 1 h at 15 s)",
    )


def _arr(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


@router.post("/deployments", status_code=201)
def create_deployment(body: DeploymentRequest, request: Request) -> dict[str, Any]:
    d = service(request.app.state.platform).create(body, request.state.principal)
    return d.to_json()


@router.get("/deployments")
def list_deployments(
    request: Request, service_name: str | None = Query(None, alias="service"), limit: int = Query(50, ge=1, le=500)
) -> dict[str, Any]:
    repo = DeploymentRepo(request.app.state.platform.store)
    return {"deployments": [d.to_json() for d in repo.list(service=service_name, limit=limit)]}


@router.get("/deployments/{dep_id}")
def get_deployment(dep_id: int, request: Request) -> dict[str, Any]:
    repo = DeploymentRepo(request.app.state.platform.store)
    return {**repo.get(dep_id).to_json(), "steps": repo.steps(dep_id)}


@router.post("/deployments/{dep_id}/approve")
def approve(dep_id: int, request: Request) -> dict[str, Any]:
    """Approve the waiting step (approver; in manual_only environments not the requester, and with TOTP)."""
    svc = service(request.app.state.platform)
    return svc.approve(dep_id, request.state.principal, request.headers.get("x-hx-otp")).to_json()


@router.post("/deployments/{dep_id}/pause")
def pause(dep_id: int, request: Request) -> dict[str, Any]:
    return service(request.app.state.platform).pause(dep_id, request.state.principal).to_json()


@router.post("/deployments/{dep_id}/resume")
def resume(dep_id: int, request: Request) -> dict[str, Any]:
    return service(request.app.state.platform).resume(dep_id, request.state.principal).to_json()


@router.post("/deployments/{dep_id}/promote")
def promote(dep_id: int, request: Request) -> dict[str, Any]:
    return service(request.app.state.platform).promote(dep_id, request.state.principal).to_json()


@router.post("/deployments/{dep_id}/abort")
def abort(dep_id: int, request: Request) -> dict[str, Any]:
    return service(request.app.state.platform).abort(dep_id, request.state.principal).to_json()


@router.post("/deployments/{dep_id}/rollback")
def rollback(dep_id: int, request: Request) -> dict[str, Any]:
    return service(request.app.state.platform).rollback(dep_id, request.state.principal).to_json()


class JudgeAnswer(Verdict):
    """The verdict, as ``hx canary judge --json`` prints it."""

    levels: dict[str, dict[str, float | None]] = Field(
        description="each metric's level on each side (baseline, canary), in the metric's units: the median, or "
        "the pooled rate of a count over its denominator"
    )
    history_note: str | None = Field(None, description="with a history: the metrics it could not serve, and why")


@router.post("/canary/judge", response_model=JudgeAnswer, response_model_exclude_unset=True)
def canary_judge(body: JudgeRequest) -> dict[str, Any]:
    names = {m.name for m in body.config.metrics} | {m.denominator for m in body.config.metrics if m.denominator}
    for side, data in (("baseline", body.baseline), ("canary", body.canary)):
        missing = sorted(n for n in names if n not in data)
        if missing:
            raise BadInput(f"{side} has no series for metric(s) {', '.join(missing)}", field=f"{side}.{missing[0]}")
    note = history_note(body.config, body.history, "history") if body.history is not None else None
    history = (
        {k: blocks_of(_arr(v), body.history_block_points) for k, v in body.history.items()}
        if body.history is not None
        else None
    )
    baseline = {k: _arr(v) for k, v in body.baseline.items()}
    canary = {k: _arr(v) for k, v in body.canary.items()}
    verdict = judge(baseline, canary, body.config, history=history)
    return {**verdict.model_dump(), "levels": levels(baseline, canary, body.config),
            **({"history_note": note} if note else {})}  # fmt: skip

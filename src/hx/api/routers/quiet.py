"""Silences, maintenance windows and change freezes: add, list, remove (each change audited)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hx.api.auth import authorize, register_roles
from hx.api.schemas import Instant, Number
from hx.quiet import QuietRules, list_rules
from hx.security.roles import Role

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], tags=["quiet"])

#: URL segment -> the kind of rule it holds.
PATHS = {"silences": "silence", "maintenance": "maintenance", "freezes": "freeze"}

register_roles({("GET", "/api/v1/quiet"): Role.VIEWER})
for _seg in PATHS:
    register_roles(
        {
            ("GET", f"/api/v1/{_seg}"): Role.VIEWER,
            ("POST", f"/api/v1/{_seg}"): Role.OPERATOR,
            ("DELETE", f"/api/v1/{_seg}/{{rule_id}}"): Role.OPERATOR,
        }
    )


class QuietBody(BaseModel):
    """A new rule: its scope (empty = any), when it holds, and why."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field("", max_length=200, description="empty: every service")
    environment: str = Field("", max_length=100, description="empty: every environment")
    alert: str = Field("", max_length=200, description="alert name; empty: every alert")
    starts_at: Instant | None = Field(None, description="default: now")
    ends_at: Instant | None = Field(None, description="the end (or give duration_s)")
    duration_s: Number | None = Field(None, gt=0, le=366 * 86400.0, description="the length from the start")
    reason: str = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _one_end(self) -> QuietBody:
        if (self.ends_at is None) == (self.duration_s is None):
            raise ValueError("give exactly one of ends_at and duration_s")
        return self

    def end(self, now: datetime) -> datetime:
        if self.ends_at is not None:
            return self.ends_at
        return (self.starts_at or now) + timedelta(seconds=float(self.duration_s or 0.0))


@router.get("/quiet")
def list_all(request: Request, active: bool = Query(False, description="only rules in force now")) -> dict[str, Any]:
    p = request.app.state.platform
    rules = list_rules(p.store, at=p.clock.now() if active else None)
    return {"rules": [r.to_json() for r in rules]}


def _routes(segment: str, kind: str) -> None:
    def list_kind(request: Request, active: bool = Query(False, description="only rules in force now")) -> Any:
        p = request.app.state.platform
        return {segment: [r.to_json() for r in list_rules(p.store, kind, at=p.clock.now() if active else None)]}

    def add(body: QuietBody, request: Request) -> dict[str, Any]:
        platform = request.app.state.platform
        rules = QuietRules(platform)
        rule = rules.add(kind, service=body.service, environment=body.environment, alert=body.alert,
                         starts_at=body.starts_at, ends_at=body.end(platform.clock.now()), reason=body.reason,
                         actor=request.state.principal.actor)  # fmt: skip
        return rule.to_json()

    def remove(rule_id: int, request: Request) -> dict[str, Any]:
        rules = QuietRules(request.app.state.platform)
        return rules.remove(rule_id, request.state.principal.actor, kind).to_json()

    router.add_api_route(f"/{segment}", list_kind, methods=["GET"], summary=f"List {segment}")
    router.add_api_route(f"/{segment}", add, methods=["POST"], status_code=201, summary=f"Add a {kind}")
    router.add_api_route(f"/{segment}/{{rule_id}}", remove, methods=["DELETE"], summary=f"Remove a {kind}")


for _seg, _kind in PATHS.items():
    _routes(_seg, _kind)

"""Platform routes shared by every component: identity, events, audit, tokens, secrets, models."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from hx.api.auth import authorize, require_mfa
from hx.api.openapi import sse_response
from hx.api.responses import safe_dumps
from hx.api.schemas import Instant, SecretPut, StageChange, TokenCreate
from hx.components import COMPONENTS
from hx.errors import Conflict
from hx.events import check_type_filter
from hx.ml.registry import StageChange as RegistryStageChange
from hx.ml.registry import promote_checked
from hx.platform import Platform
from hx.security.roles import Role
from hx.security.tokens import Principal

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)])


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


@router.get("/whoami")
def whoami(request: Request) -> dict[str, Any]:
    p: Principal = request.state.principal
    return {"id": p.token_id, "name": p.name, "role": p.role.value, "mfa": p.has_mfa}


@router.get("/components")
def components() -> list[dict[str, Any]]:
    return [{"name": c.name, "port": c.port, "summary": c.summary} for c in COMPONENTS]


@router.get("/events")
def list_events(
    request: Request,
    after: int = Query(0, ge=0, description="cursor: return events with id > after"),
    type: list[str] | None = Query(None, description="event types; 'deployment.*' matches a family"),
    subject: str | None = None,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    types = check_type_filter(type) if type else None
    events = _platform(request).bus.rows(  # every stored row, as stored (those that do not fit too)
        after=after, types=types, subject=subject, since=since, until=until, limit=limit
    )
    cursor = events[-1].id if events else after
    return {"events": [e.to_json() for e in events], "cursor": cursor}


@router.get("/events/stream", response_class=StreamingResponse, responses=sse_response())
async def stream_events(
    request: Request,
    after: int | None = Query(None, ge=0, description="start after this id (default: only new events)"),
    type: list[str] | None = Query(None),
    max_events: int | None = Query(None, ge=1, description="close the stream after this many events"),
    last: int | None = Query(None, ge=1, le=1000, description="start with the last N events (when no cursor)"),
) -> StreamingResponse:
    bus = _platform(request).bus
    types = check_type_filter(type) if type else None
    cursor = after if after is not None else max(0, bus.last_id() - (last or 0))

    async def gen() -> AsyncIterator[str]:
        nonlocal cursor
        sent = 0
        yield ": hx event stream\n\n"
        while not await request.is_disconnected():
            batch = await asyncio.to_thread(bus.rows, after=cursor, types=types, limit=200)
            for e in batch:
                cursor = e.id
                sent += 1
                yield f"id: {e.id}\nevent: {e.type}\ndata: {safe_dumps(e.to_json())}\n\n"
                if max_events is not None and sent >= max_events:
                    return
            if not batch:
                await asyncio.sleep(0.25)

    return StreamingResponse(gen(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.get("/audit")
def audit_records(
    request: Request, after: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000), actor: str | None = None
) -> dict[str, Any]:
    records = _platform(request).audit.records(after=after, limit=limit, actor=actor)
    return {"records": [r.to_json() for r in records]}


@router.get("/audit/verify")
def audit_verify(request: Request) -> dict[str, Any]:
    return _platform(request).audit.verify().to_json()


@router.get("/tokens")
def list_tokens(request: Request) -> list[dict[str, Any]]:
    return [
        {
            "id": t.id,
            "name": t.name,
            "role": t.role.value,
            "prefix": t.prefix,
            "created_at": t.created_at.isoformat(),
            "created_by": t.created_by,
            "revoked": t.revoked,
            "mfa": t.mfa,
        }
        for t in _platform(request).tokens.list()
    ]


@router.post("/tokens", status_code=201)
def create_token(body: TokenCreate, request: Request) -> dict[str, Any]:
    p: Principal = request.state.principal
    platform = _platform(request)
    if body.role is Role.ADMIN and "admin_token" in platform.settings.security.mfa_required_for:
        require_mfa(request, p)
    token, info = platform.tokens.create(body.name, body.role, created_by=p.actor)
    return {"id": info.id, "name": info.name, "role": info.role.value, "token": token}


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, request: Request) -> None:
    """Revoke a token; never the calling one (an admin cannot lock itself out; use another admin token)."""
    if token_id == request.state.principal.token_id:
        raise Conflict("this is the token making the call; revoke it with another admin token", field="token_id")
    _platform(request).tokens.revoke(token_id)


@router.post("/tokens/{token_id}/mfa", status_code=201)
def enroll_mfa(
    token_id: int,
    request: Request,
    replace: bool = Query(False, description="replace a second factor the token has (409 without it)"),
) -> dict[str, Any]:
    secret, uri = _platform(request).tokens.enroll_mfa(token_id, replace=replace)
    return {"token_id": token_id, "secret": secret, "otpauth_uri": uri}


@router.get("/secrets")
def list_secrets(request: Request) -> dict[str, Any]:
    return {"names": _platform(request).secrets.names()}


@router.put("/secrets/{name}", status_code=204)
def put_secret(name: str, body: SecretPut, request: Request) -> None:
    _platform(request).secrets.put(name, body.value)


@router.delete("/secrets/{name}", status_code=204)
def delete_secret(name: str, request: Request) -> None:
    _platform(request).secrets.delete(name)


@router.get("/models")
def list_models(request: Request, name: str | None = None) -> dict[str, Any]:
    platform = _platform(request)
    return {
        "versions": [v.to_json() for v in platform.models.versions(name)],
        "in_use": {n: h.health() for n, h in platform.model_handles.items()},
    }


@router.post("/models/{name}/{version}/stage")
def set_model_stage(name: str, version: int, body: StageChange, request: Request) -> dict[str, Any]:
    """Change a version's stage; the registry publishes it (model.promoted / model.retired) for every engine.
    Promoting a version that is not in shadow needs ``force`` (audited as ``model.promoted_forced``)."""
    platform = _platform(request)
    actor = request.state.principal.actor
    if body.stage == "promoted":
        action = promote_checked(platform.models, name, version, actor=actor, force=body.force)
        platform.audit.append(actor, action, f"model:{name}:{version}", "ok")
    else:
        platform.models.set_stage(name, version, body.stage, RegistryStageChange(actor=actor, reason="API"))
    return platform.models.get(name, version).to_json()


@router.get("/engines")
def engines(request: Request) -> dict[str, Any]:
    runtime = request.app.state.runtime
    return {"engines": runtime.health() if runtime is not None else {}}

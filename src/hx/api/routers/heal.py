"""self-healing routes: alert intake (Alertmanager webhook, hx's own schema), incidents, remediation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from hx.api.auth import authorize, register_roles
from hx.api.openapi import component, json_body
from hx.heal.component import heal_engine
from hx.heal.intake import MAX_ALERTS, MAX_BODY_BYTES, AmAlert, HxAlertBatch, PayloadTooLarge
from hx.heal.records import EXEC_ACTIVE, EXEC_TERMINAL, ExecutionRepo, IncidentRepo
from hx.security.roles import Role

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], tags=["self-healing"])

register_roles(
    {
        ("POST", "/api/v1/alerts/alertmanager"): Role.OPERATOR,
        ("POST", "/api/v1/alerts"): Role.OPERATOR,
        ("GET", "/api/v1/incidents"): Role.VIEWER,
        ("GET", "/api/v1/incidents/{incident_id}"): Role.VIEWER,
        ("POST", "/api/v1/incidents/{incident_id}/acknowledge"): Role.OPERATOR,
        ("POST", "/api/v1/incidents/{incident_id}/resolve"): Role.OPERATOR,
        ("POST", "/api/v1/incidents/{incident_id}/label"): Role.OPERATOR,
        ("GET", "/api/v1/remediations"): Role.VIEWER,
        ("POST", "/api/v1/remediations/{execution_id}/approve"): Role.APPROVER,
        ("POST", "/api/v1/remediations/{execution_id}/reject"): Role.APPROVER,
        ("POST", "/api/v1/remediations/breakers/{service}/reset"): Role.APPROVER,
        ("GET", "/api/v1/runbooks"): Role.VIEWER,
    }
)


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=2000)


async def _body(request: Request) -> bytes:
    """The raw body, refusing early (413) when the declared or actual size is over the limit."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {MAX_BODY_BYTES} bytes (1 MiB)",
                              field="body", limit=MAX_BODY_BYTES)  # fmt: skip
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the body is over the limit of {MAX_BODY_BYTES} bytes (1 MiB)", field="body",
                                  limit=MAX_BODY_BYTES)  # fmt: skip
        chunks.append(chunk)
    return b"".join(chunks)


#: Alertmanager's webhook as hx reads it: the alerts, each checked on its own; the group's fields are taken as sent
_AM_BODY = {
    "type": "object",
    "title": "AlertmanagerWebhook",
    "description": "Alertmanager's webhook, version 4. hx reads the alerts; the group's fields (version, groupKey, "
    "status, receiver, groupLabels, commonLabels, commonAnnotations, externalURL, truncatedAlerts) are taken as "
    "sent. An alert that does not match AmAlert is left out and named in the answer's problems (200, status "
    "partial); when no alert matches, the answer is 422.",
    "required": ["alerts"],
    "properties": {
        "alerts": {
            "type": "array",
            "description": f"at most {MAX_ALERTS} (more: 413)",
            # not a $ref: a batch with some malformed alerts is answered 200 (Alertmanager re-sends no 4xx batch)
            "items": {"type": "object", "description": f"an alert, as {component(AmAlert)['$ref']} describes it"},
        }
    },
}


#: intake requests parsed and stored at once, each in a worker thread; the rest wait without holding a thread (the
#: store serialises writes anyway, and fewer busy threads leave the interpreter to /health and the other routes)
INTAKE_THREADS = 2
_intake_limiter: anyio.CapacityLimiter | None = None


async def _off_loop(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Parse and store an alert body in a worker thread: the event loop keeps answering meanwhile."""
    global _intake_limiter
    if _intake_limiter is None:  # made on the running loop
        _intake_limiter = anyio.CapacityLimiter(INTAKE_THREADS)
    return await anyio.to_thread.run_sync(fn, limiter=_intake_limiter)


@router.post("/alerts/alertmanager", status_code=200, openapi_extra=json_body(_AM_BODY))
async def alertmanager_webhook(request: Request) -> JSONResponse:
    """Alertmanager's webhook (version 4). Stores the alerts and answers at once; idempotent on re-sends.

    A malformed alert is left out and named (``refused``, ``problems``) while the rest of its group is stored:
    Alertmanager does not re-send a group answered with a 4xx, so a whole-group refusal would lose the good alerts.
    A body that is no webhook, or whose every alert is malformed, is 422."""
    body = await _body(request)
    platform = request.app.state.platform
    result = await _off_loop(lambda: heal_engine(platform).intake.alertmanager(body, platform.clock.now()))
    return JSONResponse({"status": "partial" if result.get("refused") else "accepted", **result}, status_code=200)


@router.post("/alerts", status_code=202, openapi_extra=json_body(HxAlertBatch))
async def post_alerts(request: Request) -> JSONResponse:
    """hx's own alert schema: ``{"alerts": [{"name", "service", "status", "severity", "starts_at", ...}]}``."""
    body = await _body(request)
    platform = request.app.state.platform
    result = await _off_loop(lambda: heal_engine(platform).intake.hx_alerts(body, platform.clock.now()))
    return JSONResponse({"status": "accepted", **result}, status_code=202)


@router.get("/incidents")
def list_incidents(
    request: Request,
    status: str | None = Query(None, pattern="^(open|acknowledged|resolved)$"),
    service: str | None = None,
    limit: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    repo = IncidentRepo(request.app.state.platform.store)
    found = repo.list(status=(status,) if status else None, service=service, limit=limit)
    return {"incidents": [i.to_json() for i in found]}


@router.get("/incidents/{incident_id}")
def get_incident(incident_id: int, request: Request) -> dict[str, Any]:
    platform = request.app.state.platform
    repo = IncidentRepo(platform.store)
    inc = repo.get(incident_id)
    executions = ExecutionRepo(platform.store).list(incident_id=incident_id, limit=50)
    return {**inc.to_json(), "timeline": repo.timeline(incident_id), "executions": [e.to_json() for e in executions]}


@router.post("/incidents/{incident_id}/acknowledge")
def acknowledge(incident_id: int, request: Request) -> dict[str, Any]:
    engine = heal_engine(request.app.state.platform)
    return engine.acknowledge(incident_id, request.state.principal.actor).to_json()


@router.post("/incidents/{incident_id}/resolve")
def resolve(incident_id: int, body: ResolveBody, request: Request) -> dict[str, Any]:
    engine = heal_engine(request.app.state.platform)
    return engine.resolve_manually(incident_id, request.state.principal.actor, body.reason).to_json()


class LabelBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    incident_class: str = Field(alias="class", min_length=1, max_length=40, description="what the incident was")


@router.post("/incidents/{incident_id}/label")
def label(incident_id: int, body: LabelBody, request: Request) -> dict[str, Any]:
    """Say what the incident really was; the continuous-improvement cycle trains the classifier on it."""
    engine = heal_engine(request.app.state.platform)
    inc = engine.label(incident_id, body.incident_class, request.state.principal.actor)
    return {**inc.to_json(), "labelled": body.incident_class}


@router.get("/remediations")
def list_remediations(
    request: Request,
    state: str | None = Query(None, pattern=f"^({'|'.join(EXEC_ACTIVE + EXEC_TERMINAL)})$"),
    limit: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    repo = ExecutionRepo(request.app.state.platform.store)
    return {"remediations": [e.to_json() for e in repo.list(states=(state,) if state else None, limit=limit)]}


@router.post("/remediations/{execution_id}/approve")
def approve(execution_id: int, request: Request) -> dict[str, Any]:
    engine = heal_engine(request.app.state.platform)
    return engine.remediation.approve(execution_id, request.state.principal.actor).to_json()


@router.post("/remediations/{execution_id}/reject")
def reject(execution_id: int, body: ResolveBody, request: Request) -> dict[str, Any]:
    engine = heal_engine(request.app.state.platform)
    return engine.remediation.reject(execution_id, request.state.principal.actor, body.reason).to_json()


@router.post("/remediations/breakers/{service}/reset")
def reset_breaker(service: str, request: Request) -> dict[str, Any]:
    engine = heal_engine(request.app.state.platform)
    was = engine.remediation.reset_breaker(service, request.state.principal.actor)
    return {"service": service, "breaker": "closed", "was": was}


@router.get("/runbooks")
def list_runbooks(request: Request) -> dict[str, Any]:
    engine = heal_engine(request.app.state.platform)
    return {"runbooks": [{**rb.model_dump(exclude={"source"}), "source": rb.source} for rb in engine.runbooks]}

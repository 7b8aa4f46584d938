"""Two-way paging: PagerDuty v3 webhooks acknowledge and resolve hx incidents; Slack interactive messages approve
or deny a runbook or a rollout.

These routes take no bearer token: each request is signed (PagerDuty: HMAC-SHA256 over the raw body with the
webhook secret; Slack: over ``v0:{timestamp}:{body}`` with the signing secret, timestamp within 5 minutes) and is
refused with 401 otherwise. A Slack user acts as the hx token ``notifiers.slack.users`` names, with that token's
role and second factor, through the same service calls as the API. Every request is audited.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from hx.api.routers.heal import _body
from hx.deploy.component import service as deploy_service
from hx.errors import AuthError, BadInput, Forbidden, HxError, MfaRequired
from hx.heal.component import heal_engine
from hx.platform import Platform
from hx.security.roles import Role
from hx.security.signatures import verify_pagerduty, verify_slack
from hx.security.tokens import Principal
from hx.store.tables import api_tokens

router = APIRouter(prefix="/hooks", tags=["paging"])

PD_INCIDENT_KEY = re.compile(r"^hx-incident-(\d+)$")
PD_ACTIONS = ("incident.acknowledged", "incident.resolved")


def _secret(platform: Platform, name: str, key: str) -> bytes:
    value = platform.secrets.get_optional(name)
    if not value:
        raise AuthError(f"no secret {name!r} (settings key {key}): set it with `hx secret set {name}`")
    return value.encode()


def _audit(platform: Platform, actor: str, action: str, target: str, outcome: str, detail: dict[str, Any]) -> None:
    platform.audit.append(actor, action, target, outcome, detail)


# ---- PagerDuty ----------------------------------------------------------------------------------


def _pd_incident(data: dict[str, Any]) -> int | None:
    """The hx incident id from PagerDuty's ``incident_key`` (hx's dedup key ``hx-incident-<id>``)."""
    m = PD_INCIDENT_KEY.match(str(data.get("incident_key") or ""))
    return int(m.group(1)) if m else None


@router.post("/pagerduty")
async def pagerduty(request: Request) -> JSONResponse:
    """A PagerDuty v3 webhook: ``incident.acknowledged`` / ``incident.resolved`` act on the hx incident."""
    platform: Platform = request.app.state.platform
    body = await _body(request)
    secret = _secret(platform, platform.settings.notifiers.pagerduty.webhook_secret,
                     "notifiers.pagerduty.webhook_secret")  # fmt: skip
    try:
        verify_pagerduty(secret, body, request.headers.get("x-pagerduty-signature"))
    except AuthError as err:
        _audit(platform, "pagerduty", "paging.pagerduty", "webhook", "refused", {"error": str(err)})
        raise
    event = _json(body).get("event") or {}
    etype, data = str(event.get("event_type", "")), event.get("data") or {}
    agent = (event.get("agent") or {}).get("summary") or "unknown"
    actor = f"pagerduty:{agent}"
    incident = _pd_incident(data) if isinstance(data, dict) else None
    if etype not in PD_ACTIONS or incident is None:
        _audit(platform, actor, "paging.pagerduty", etype or "?", "ignored", {"incident_key": data.get("incident_key")})
        return JSONResponse({"status": "ignored", "event_type": etype}, status_code=200)
    engine = heal_engine(platform)
    if etype == "incident.acknowledged":
        inc = engine.acknowledge(incident, actor)
    else:
        inc = engine.resolve_manually(incident, actor, f"resolved in PagerDuty by {agent}")
    _audit(platform, actor, f"paging.{etype}", f"incident:{incident}", "ok", {"status": inc.status})
    return JSONResponse({"status": "ok", "incident": incident, "incident_status": inc.status}, status_code=200)


def _json(body: bytes) -> dict[str, Any]:
    try:
        out = json.loads(body)
    except ValueError as err:
        raise BadInput(f"the body is not JSON: {err}", field="body") from err
    if not isinstance(out, dict):
        raise BadInput("the body is not a JSON object", field="body")
    return out


# ---- Slack ---------------------------------------------------------------------------------------


def principal_for(platform: Platform, slack_user: str) -> Principal:
    """The hx token a Slack user acts as (``notifiers.slack.users``), refused when unmapped or revoked."""
    name = platform.settings.notifiers.slack.users.get(slack_user)
    if name is None:
        raise Forbidden(f"Slack user {slack_user} is not mapped to an hx user (notifiers.slack.users)")
    t = api_tokens.c
    q = select(t.id, t.name, t.role, t.totp_secret).where(t.name == name, t.revoked_at.is_(None)).order_by(t.id)
    with platform.store.begin() as conn:
        row = conn.execute(q).first()
    if row is None:
        raise Forbidden(f"Slack user {slack_user} maps to {name!r}, which has no active hx token")
    return Principal(int(row.id), row.name, Role(row.role), row.totp_secret is not None)


def _slack_payload(body: bytes) -> dict[str, Any]:
    raw = parse_qs(body.decode("utf-8", errors="replace")).get("payload")
    if not raw:
        raise BadInput("a Slack interaction carries a form field 'payload'", field="payload")
    return _json(raw[0].encode())


def _otp(payload: dict[str, Any]) -> str | None:
    """A TOTP code typed into an input whose action_id is ``otp`` (for actions that need a second factor)."""
    for block in ((payload.get("state") or {}).get("values") or {}).values():
        if isinstance(block, dict) and isinstance(block.get("otp"), dict):
            value = block["otp"].get("value")
            return str(value) if value else None
    return None


def _act(platform: Platform, principal: Principal, action: str, value: str, otp: str | None) -> dict[str, Any]:
    """``hx_approve`` / ``hx_deny`` on ``deployment:<id>`` or ``remediation:<id>``, with the API's own rules."""
    what, _, ident = value.partition(":")
    if action not in ("hx_approve", "hx_deny") or what not in ("deployment", "remediation") or not ident.isdigit():
        raise BadInput(f"unknown Slack action {action!r} on {value!r}", field="actions")
    if not principal.role.allows(Role.APPROVER):
        raise Forbidden(f"approving or denying needs the approver role; {principal.name} is {principal.role.value}")
    if what == "deployment":
        svc = deploy_service(platform)
        d = svc.approve(int(ident), principal, otp) if action == "hx_approve" else svc.abort(int(ident), principal)
        return {"deployment": d.id, "state": d.state}
    rem = heal_engine(platform).remediation
    ex = (rem.approve(int(ident), principal.actor) if action == "hx_approve"
          else rem.reject(int(ident), principal.actor, "denied in Slack"))  # fmt: skip
    return {"remediation": ex.id, "state": ex.state}


@router.post("/slack/interactive")
async def slack_interactive(request: Request) -> JSONResponse:
    """A Slack button press (block_actions): approve or deny a rollout or a runbook as the mapped hx user."""
    platform: Platform = request.app.state.platform
    body = await _body(request)
    secret = _secret(platform, platform.settings.notifiers.slack.signing_secret, "notifiers.slack.signing_secret")
    try:
        verify_slack(secret, body, request.headers.get("x-slack-request-timestamp"),
                     request.headers.get("x-slack-signature"), now=platform.clock.now().timestamp())  # fmt: skip
    except AuthError as err:
        _audit(platform, "slack", "paging.slack", "interaction", "refused", {"error": str(err)})
        raise
    payload = _slack_payload(body)
    user = str((payload.get("user") or {}).get("id", ""))
    actions = payload.get("actions") or [{}]
    action, value = str(actions[0].get("action_id", "")), str(actions[0].get("value", ""))
    try:
        principal = principal_for(platform, user)
        result = _act(platform, principal, action, value, _otp(payload))
    except HxError as err:
        if err.status >= 500:
            raise
        _audit(platform, f"slack:{user}", f"paging.slack.{action}", value, f"http_{err.status}", {"error": str(err)})
        hint = " (in Slack: type the code in the message's otp field)" if isinstance(err, MfaRequired) else ""
        return JSONResponse({"response_type": "ephemeral", "replace_original": False, "ok": False,
                             "error": err.title, "text": f"hx refused: {err}{hint}"}, status_code=200)  # fmt: skip
    _audit(platform, principal.actor, f"paging.slack.{action}", value, "ok", {"slack_user": user, **result})
    return JSONResponse({"response_type": "in_channel", "replace_original": False, "ok": True, **result,
                         "text": f"{action.removeprefix('hx_')} {value} by {principal.name}: {result}"})  # fmt: skip

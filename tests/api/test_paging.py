"""Two-way paging against a running server: signed PagerDuty v3 webhooks acknowledge and resolve incidents; signed
Slack interactions approve or deny rollouts as the mapped hx user, with the API's role and second-factor rules."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pyotp
import pytest

from hx.api.app import create_app
from hx.deploy.service import DeploymentRequest
from hx.heal.component import heal_engine
from hx.heal.records import AlertRow
from hx.heal.runbooks import load_runbooks, select_runbook
from hx.security.roles import Role
from hx.security.signatures import slack_signature
from tests.deploy.conftest import World, make_world
from tests.support.live import live_server

PD_SECRET, SLACK_SECRET = "pd-webhook-secret", "slack-signing-secret"
USERS = {"U0APPROVER": "lead", "U0OPERATOR": "ops", "U0REQUEST": "release-manager"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[World, str]]:
    w = make_world(tmp_path / "hx", **{"notifiers.slack.users": USERS})
    w.platform.secrets.put("pagerduty_webhook_secret", PD_SECRET)
    w.platform.secrets.put("slack_signing_secret", SLACK_SECRET)
    with live_server(create_app(w.platform, runtime=w.runtime)) as url:
        yield w, url
    w.platform.store.dispose()


def _pd(client: httpx.Client, body: dict[str, object], secret: str = PD_SECRET) -> httpx.Response:
    raw = json.dumps(body).encode()
    sig = "v1=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return client.post("/hooks/pagerduty", content=raw, headers={"X-PagerDuty-Signature": sig,
                                                                 "Content-Type": "application/json"})  # fmt: skip


def _pd_event(kind: str, incident: int) -> dict[str, object]:
    data = {"id": "Q1", "type": "incident", "incident_key": f"hx-incident-{incident}", "status": kind}
    return {"event": {"id": "E1", "event_type": f"incident.{kind}", "agent": {"summary": "Dana Oncall"}, "data": data}}


def test_pagerduty_webhook_acknowledges_and_resolves_only_when_signed(served: tuple[World, str]) -> None:
    w, url = served
    engine = heal_engine(w.platform)
    body = {"alerts": [{"name": "WeirdThing", "service": w.sim.names[0], "starts_at": w.clock.now().isoformat()}]}
    engine.intake.hx_alerts(json.dumps(body).encode(), w.clock.now())
    w.run(60)
    inc = engine.incidents.list(limit=5)[0]
    with httpx.Client(base_url=url, timeout=30) as c:
        r = _pd(c, _pd_event("acknowledged", inc.id), secret="wrong")
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
        assert c.post("/hooks/pagerduty", json=_pd_event("acknowledged", inc.id)).status_code == 401  # unsigned
        assert engine.incidents.get(inc.id).status == "open"
        r = _pd(c, _pd_event("acknowledged", inc.id))
        assert r.status_code == 200 and r.json()["incident_status"] == "acknowledged"
        assert _pd(c, {"event": {"event_type": "incident.annotated", "data": {}}}).json()["status"] == "ignored"
        r = _pd(c, _pd_event("resolved", inc.id))
        assert r.status_code == 200 and engine.incidents.get(inc.id).status == "resolved"
        assert _pd(c, _pd_event("resolved", 99999)).status_code == 404
    audit = [(a.actor, a.action, a.outcome) for a in w.platform.audit.records(limit=1000)]
    assert ("pagerduty", "paging.pagerduty", "refused") in audit
    assert ("pagerduty:Dana Oncall", "paging.incident.acknowledged", "ok") in audit


def _slack(client: httpx.Client, w: World, user: str, action: str, value: str, otp: str | None = None,
           secret: str = SLACK_SECRET, skew_s: float = 0.0) -> httpx.Response:  # fmt: skip
    payload: dict[str, object] = {"type": "block_actions", "user": {"id": user},
                                  "actions": [{"action_id": action, "value": value}]}  # fmt: skip
    if otp is not None:
        payload["state"] = {"values": {"b1": {"otp": {"type": "plain_text_input", "value": otp}}}}
    raw = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(w.clock.now().timestamp() + skew_s))
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": slack_signature(secret.encode(), raw, ts),
               "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
    return client.post("/hooks/slack/interactive", content=raw, headers=headers)


def _request(w: World, env: str, service: int = 0) -> DeploymentRequest:
    return DeploymentRequest(service=w.sim.names[service], version="v2", environment=env, strategy="canary")


def test_slack_approves_and_denies_rollouts_with_the_apis_rules(served: tuple[World, str]) -> None:
    w, url = served
    requester = w.principal(Role.APPROVER, "release-manager")
    w.principal(Role.OPERATOR, "ops")
    _, lead = w.platform.tokens.create("lead", Role.APPROVER)
    staging = w.svc.create(_request(w, "staging"), requester)
    prod = w.svc.create(_request(w, "prod", 1), requester)
    assert staging.state == prod.state == "awaiting_approval"
    with httpx.Client(base_url=url, timeout=30) as c:
        assert _slack(c, w, "U0APPROVER", "hx_approve", f"deployment:{staging.id}", secret="x").status_code == 401
        assert _slack(c, w, "U0APPROVER", "hx_approve", f"deployment:{staging.id}", skew_s=-301).status_code == 401
        r = _slack(c, w, "U0OPERATOR", "hx_approve", f"deployment:{staging.id}")
        assert r.status_code == 200 and not r.json()["ok"] and "approver role" in r.json()["text"]
        r = _slack(c, w, "U0NOBODY", "hx_approve", f"deployment:{staging.id}")
        assert not r.json()["ok"] and "not mapped" in r.json()["text"]
        assert w.svc.repo.get(staging.id).state == "awaiting_approval"
        r = _slack(c, w, "U0APPROVER", "hx_approve", f"deployment:{staging.id}")
        assert r.json()["ok"] and r.json()["state"] == "running", r.json()
        # production: segregation of duties and the second factor, as through the API
        r = _slack(c, w, "U0REQUEST", "hx_approve", f"deployment:{prod.id}")
        assert not r.json()["ok"] and "segregation of duties" in r.json()["text"]
        r = _slack(c, w, "U0APPROVER", "hx_approve", f"deployment:{prod.id}")
        assert not r.json()["ok"] and "TOTP" in r.json()["text"] and "otp field" in r.json()["text"]
        secret, _ = w.platform.tokens.enroll_mfa(lead.id)
        r = _slack(c, w, "U0APPROVER", "hx_approve", f"deployment:{prod.id}", otp=pyotp.TOTP(secret).at(w.clock.now()))
        assert r.json()["ok"] and r.json()["state"] == "running", r.json()
        r = _slack(c, w, "U0APPROVER", "hx_deny", f"deployment:{staging.id}")
        assert r.json()["ok"] and r.json()["state"] in ("rolling_back", "aborted")
    audit = [(a.action, a.outcome) for a in w.platform.audit.records(limit=1000) if a.action.startswith("paging")]
    assert ("paging.slack", "refused") in audit and ("paging.slack.hx_approve", "http_403") in audit
    assert ("paging.slack.hx_approve", "ok") in audit and ("paging.slack.hx_deny", "ok") in audit


def test_slack_approves_and_denies_runbooks(served: tuple[World, str]) -> None:
    w, url = served
    w.principal(Role.APPROVER, "lead")
    w.principal(Role.OPERATOR, "ops")
    heal = heal_engine(w.platform)
    rows = []
    for i in range(2):
        svc = w.sim.names[i + 1]  # one active execution per target
        now = w.clock.now()
        row = AlertRow(dedup_key=f"k{i}", source="api", group_key="", fingerprint=f"f{i}", status="firing",
                       name="MemoryGrowing", service=svc, environment="staging", severity="error",
                       labels={"service": svc}, annotations={}, starts_at=now, ends_at=None,
                       received_at=now)  # fmt: skip
        inc = heal.manager.apply(row, now)
        assert inc is not None
        rb, _ = select_runbook(load_runbooks(), "memory_leak", {}, "dev")
        assert rb is not None
        ex = heal.remediation.start(inc, rb, svc, now)
        assert ex is not None and ex.state == "awaiting_approval"
        rows.append(ex.id)
    with httpx.Client(base_url=url, timeout=30) as c:
        r = _slack(c, w, "U0OPERATOR", "hx_approve", f"remediation:{rows[0]}")
        assert not r.json()["ok"] and "approver role" in r.json()["text"]
        r = _slack(c, w, "U0APPROVER", "hx_approve", f"remediation:{rows[0]}")
        assert r.json()["ok"] and r.json()["state"] == "running", r.json()
        r = _slack(c, w, "U0APPROVER", "hx_deny", f"remediation:{rows[1]}")
        assert r.json()["ok"] and r.json()["state"] not in ("awaiting_approval", "running"), r.json()
        r = _slack(c, w, "U0APPROVER", "hx_launch", f"remediation:{rows[1]}")
        assert not r.json()["ok"] and "unknown Slack action" in r.json()["text"]
    assert heal.remediation.repo.get(rows[0]).results[0]["approved_by"].endswith(":lead")

"""The whole loop on the sim: alert -> incident -> class -> runbook -> verified -> resolved, with real notifiers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hx.api.app import create_app
from hx.components import Component
from hx.heal.component import heal_engine
from hx.heal.records import AlertRepo
from hx.security.roles import Role
from hx.sim import Fault
from tests.heal.conftest import HealWorld, make_heal_world
from tests.heal.notify.receivers import RecordingServer, SmtpRecorder, recording_http_server, smtp_server
from tests.support.live import live_server


@pytest.fixture
def receivers() -> Iterator[tuple[RecordingServer, SmtpRecorder]]:
    with recording_http_server() as http, smtp_server() as smtp:
        yield http, smtp


def notified_world(home: Path, http: RecordingServer, smtp: SmtpRecorder) -> HealWorld:
    w = make_heal_world(home, {
        "notifiers.slack.enabled": True, "notifiers.pagerduty.enabled": True, "notifiers.email.enabled": True,
        "notifiers.email.smtp_port": smtp.port, "notifiers.email.to": ["oncall@example.com"],
        "notifiers.pagerduty.url": http.url("/pd"), "notifiers.max_attempts": 1,
    }, build=False)  # fmt: skip
    w.platform.secrets.put("slack_webhook_url", http.url("/slack"))
    w.platform.secrets.put("pagerduty_routing_key", "r" * 32)
    return w.finish()


def test_memory_leak_is_healed_verified_resolved_and_notified(
    tmp_path: Path, receivers: tuple[RecordingServer, SmtpRecorder]
) -> None:
    http, smtp = receivers
    w = notified_world(tmp_path / "hx", http, smtp)
    svc = w.sim.names[1]
    fid = w.sim.inject(Fault("memory_leak", service=svc, magnitude=0.02))
    w.run(2400)
    incs = [i for i in w.incidents() if i.service == svc]
    assert incs and incs[-1].status == "resolved", [(i.service, i.status, i.incident_class) for i in w.incidents()]
    inc = incs[-1]
    assert inc.incident_class == "memory_leak" and inc.resolution.startswith("fixed by runbook restart-leaking-service")
    assert not w.sim.faults[fid].active and inc.mttr_s() is not None
    kinds = [e["kind"] for e in w.engine.incidents.timeline(inc.id)]
    assert (
        kinds.index("classified")
        < kinds.index("action")
        < kinds.index("remediation_finished")
        < kinds.index("resolved")
    )
    assert "notification" in kinds
    slack = [json.loads(r.body) for r in http.to("/slack")]
    assert slack and any("memory_leak" in json.dumps(m) for m in slack)
    assert smtp.messages and "memory_leak" in smtp.messages[0].raw.decode(errors="replace")
    assert not http.to("/pd")  # healed before paging
    assert not [i for i in w.incidents() if i.service != svc and i.status != "resolved"]


def test_unknown_incident_is_escalated_to_pagerduty(
    tmp_path: Path, receivers: tuple[RecordingServer, SmtpRecorder]
) -> None:
    http, smtp = receivers
    w = notified_world(tmp_path / "hx", http, smtp)
    body = {"alerts": [{"name": "WeirdThing", "service": w.sim.names[0], "starts_at": w.clock.now().isoformat()}]}
    w.engine.intake.hx_alerts(json.dumps(body).encode(), w.clock.now())
    w.run(120, alerts=False)
    inc = w.incidents()[0]
    assert inc.incident_class == "unknown"
    pd = [r.json() for r in http.to("/pd")]
    assert pd and pd[0]["event_action"] == "trigger" and pd[0]["payload"]["severity"] == "critical"
    assert any(e["kind"] == "escalated" for e in w.engine.incidents.timeline(inc.id))


def test_api_intake_incident_ack_and_resolve(tmp_path: Path) -> None:
    w = make_heal_world(tmp_path / "hx")
    app = create_app(w.platform, [Component("self-healing", 8085, "", routers=("hx.api.routers.heal:router",))])
    token, _ = w.platform.tokens.create("am", Role.OPERATOR)
    h = {"Authorization": f"Bearer {token}"}
    payload = {"version": "4", "status": "firing", "groupKey": "g1", "extra": 1, "alerts": [
        {"status": "firing", "labels": {"alertname": "HighErrorRate", "service": w.sim.names[0]},
         "startsAt": w.clock.now().isoformat(), "fingerprint": "abc"}]}  # fmt: skip
    with live_server(app) as url, httpx.Client(base_url=url, timeout=30) as c:
        r1 = c.post("/api/v1/alerts/alertmanager", content=json.dumps(payload), headers=h)
        r2 = c.post("/api/v1/alerts/alertmanager", content=json.dumps(payload), headers=h)
        assert r1.status_code == r2.status_code == 200
        assert (r1.json()["accepted"], r2.json()["duplicates"]) == (1, 1)
        big = c.post("/api/v1/alerts/alertmanager", content=b"x" * (1024 * 1024 + 10), headers=h)
        assert big.status_code == 413 and big.headers["content-type"].startswith("application/problem+json")
        assert big.json()["field"] == "body"
        bad = c.post("/api/v1/alerts/alertmanager", content=b"{", headers=h)
        assert bad.status_code == 422 and bad.json()["field"] == "body"
        # one malformed alert: the rest of its group is stored, the refusal named, counted and shown in /health
        first = {"status": "firing", "labels": {"alertname": "HighErrorRate", "service": w.sim.names[0]},
                 "startsAt": w.clock.now().isoformat()}  # fmt: skip
        good, broken = {**first, "fingerprint": "def"}, {**first, "startsAt": "now"}
        mixed = {**payload, "groupKey": "g2", "alerts": [good, broken]}
        part = c.post("/api/v1/alerts/alertmanager", content=json.dumps(mixed), headers=h)
        assert part.status_code == 200, part.text
        body = part.json()
        assert (body["status"], body["accepted"], body["refused"]) == ("partial", 1, 1)
        assert body["problems"][0]["field"] == "alerts.1.startsAt"
        allbad = {**mixed, "alerts": [broken]}
        refused = c.post("/api/v1/alerts/alertmanager", content=json.dumps(allbad), headers=h)
        assert refused.status_code == 422 and refused.json()["field"] == "alerts.0.startsAt"
        deadline = time.monotonic() + 10.0  # /health answers from a snapshot its publisher refreshes each second
        while True:
            intake = c.get("/health", headers=h).json()["checks"]["self_healing"]["intake"]
            if intake["alerts_refused"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert intake["alerts_refused"] == 1 and intake["last_refused"]["group_key"] == "g2"
        assert 'hx_alerts_refused_total{field="startsAt",source="alertmanager"} 1.0' in c.get("/metrics").text
        heal_engine(w.platform).step(w.clock.now())
        incs = c.get("/api/v1/incidents", headers=h).json()["incidents"]
        assert len(incs) == 1 and incs[0]["labels"]["alertname"] == "HighErrorRate"
        assert AlertRepo(w.platform.store).count() == 2  # abc, and def of the partial group
        iid = incs[0]["id"]
        detail = c.get(f"/api/v1/incidents/{iid}", headers=h).json()
        assert detail["timeline"][0]["kind"] == "opened"
        if detail["status"] == "open":
            assert c.post(f"/api/v1/incidents/{iid}/acknowledge", headers=h).json()["status"] == "acknowledged"
        done = c.post(f"/api/v1/incidents/{iid}/resolve", json={"reason": "fixed by hand"}, headers=h).json()
        assert done["status"] == "resolved" and done["mttr_s"] is not None

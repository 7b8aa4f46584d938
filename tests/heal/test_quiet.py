"""A maintenance window holds remediation (the incident says so, audited); a silence holds notifications."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from hx.quiet import QuietRules
from hx.sim import Fault
from tests.heal.conftest import HealWorld, make_heal_world
from tests.heal.notify.receivers import RecordingServer, recording_http_server


@pytest.fixture
def http() -> Iterator[RecordingServer]:
    with recording_http_server() as server:
        yield server


def _world(home: Path, http: RecordingServer) -> HealWorld:
    w = make_heal_world(home, {"notifiers.slack.enabled": True, "notifiers.max_attempts": 1}, build=False)
    w.platform.secrets.put("slack_webhook_url", http.url("/slack"))
    return w.finish()


def test_a_maintenance_window_suppresses_remediation_and_is_audited(tmp_path: Path, http: RecordingServer) -> None:
    w = _world(tmp_path / "hx", http)
    svc = w.sim.names[1]
    rule = QuietRules(w.platform).add("maintenance", service=svc, ends_at=w.clock.now() + timedelta(hours=3),
                                      reason="kernel patching", actor="token:9:alice")  # fmt: skip
    fid = w.sim.inject(Fault("memory_leak", service=svc, magnitude=0.02))
    w.run(2400)
    incs = [i for i in w.incidents() if i.service == svc]
    assert incs and incs[-1].incident_class == "memory_leak"
    kinds = [e["kind"] for e in w.engine.incidents.timeline(incs[-1].id)]
    assert "maintenance" in kinds and "action" not in kinds
    assert w.sim.faults[fid].active  # the runbook did not run
    note = next(e for e in w.engine.incidents.timeline(incs[-1].id) if e["kind"] == "maintenance")["detail"]
    assert note["window"] == rule.id and note["runbook"] == "restart-leaking-service"
    audit = [a for a in w.platform.audit.records(limit=1000) if a.action == "remediation.suppressed"]
    assert audit and audit[0].outcome == "suppressed" and audit[0].detail["window"] == rule.id
    assert any(a.action == "maintenance.add" and a.actor == "token:9:alice" for a in w.platform.audit.records())


def test_without_a_window_the_same_fault_is_remediated(tmp_path: Path, http: RecordingServer) -> None:
    w = _world(tmp_path / "hx", http)
    svc = w.sim.names[1]
    QuietRules(w.platform).add("maintenance", service=w.sim.names[0], ends_at=w.clock.now() + timedelta(hours=3),
                               reason="another service", actor="alice")  # fmt: skip
    w.sim.inject(Fault("memory_leak", service=svc, magnitude=0.02))
    w.run(2400)
    inc = [i for i in w.incidents() if i.service == svc][-1]
    assert "action" in [e["kind"] for e in w.engine.incidents.timeline(inc.id)]


def test_a_silence_holds_notifications_and_is_audited(tmp_path: Path, http: RecordingServer) -> None:
    w = _world(tmp_path / "hx", http)
    body = {"alerts": [{"name": "WeirdThing", "service": w.sim.names[0], "starts_at": w.clock.now().isoformat()}]}
    rule = QuietRules(w.platform).add("silence", alert="WeirdThing", ends_at=w.clock.now() + timedelta(hours=1),
                                      reason="known noisy check", actor="bob")  # fmt: skip
    w.engine.intake.hx_alerts(json.dumps(body).encode(), w.clock.now())
    w.run(120, alerts=False)
    inc = w.incidents()[0]
    assert inc.incident_class == "unknown"
    assert not http.to("/slack")
    kinds = [e["kind"] for e in w.engine.incidents.timeline(inc.id)]
    assert "silenced" in kinds and "notification" not in kinds
    audit = [a for a in w.platform.audit.records(limit=1000) if a.action == "notification.silenced"]
    assert audit and audit[0].detail["silence"] == rule.id
    esc = w.engine.escalator  # an escalation level fired by the dispatcher goes through the same entry point
    held = esc.enqueue("slack", esc.message(inc), "trigger", 1)
    assert held.reply == "silenced"
    esc.step()
    assert not http.to("/slack")
    QuietRules(w.platform).remove(rule.id, "bob")
    w.engine.escalator.notify(w.engine.incidents.get(inc.id), summary="after the silence")
    w.engine.escalator.step()  # the outbox delivers what was queued (at the end of a step in simulated time)
    assert http.to("/slack")

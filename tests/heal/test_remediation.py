from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hx.actuate.base import ActionResult, Actuator, Capability
from hx.errors import ActuatorTimeout, NotFound
from hx.heal.records import AlertRow, Incident
from hx.heal.remediation import MAX_ATTEMPTS, RemediationEngine
from hx.heal.runbooks import Runbook, load_runbooks, select_runbook
from hx.http import RetryPolicy, WebhookSender
from hx.sim import Fault
from tests.heal.conftest import HealWorld, make_heal_world
from tests.heal.notify.receivers import FakeTime


def leak_runbook() -> Runbook:
    rb, _ = select_runbook(load_runbooks(), "memory_leak", {}, "dev")
    assert rb is not None
    return rb


def incident(w: HealWorld, service: str, env: str = "dev") -> Incident:
    now = w.clock.now()
    row = AlertRow(
        dedup_key=f"k-{service}-{now.timestamp()}", source="api", group_key="", fingerprint=f"f-{service}",
        status="firing", name="MemoryGrowing", service=service, environment=env, severity="error",
        labels={"service": service}, annotations={}, starts_at=now, ends_at=None, received_at=now,
    )  # fmt: skip
    inc = w.engine.manager.apply(row, now)
    assert inc is not None
    return inc


class BrokenActuator:
    """Every call times out (a hung actuator that the adapter's timeout cut off)."""

    name = "broken"

    def __init__(self) -> None:
        self.calls = 0

    def capabilities(self) -> frozenset[Capability]:
        return frozenset(Capability)

    def _fail(self, *args: Any, **kwargs: Any) -> ActionResult:
        self.calls += 1
        raise ActuatorTimeout("no answer within 120s")

    scale = set_traffic_split = deploy = restart = _fail

    def run(self, action: str, params: Mapping[str, Any], *, timeout: float = 300.0) -> ActionResult:
        return self._fail()


def engine_with(w: HealWorld, actuator: Actuator | None) -> RemediationEngine:
    return RemediationEngine(w.platform, actuator, signal_step_s=15.0)


def test_rolling_restart_respects_blast_radius_and_heals(hworld: HealWorld) -> None:
    svc = hworld.sim.names[1]
    n = len(hworld.sim.instances(svc))
    fid = hworld.sim.inject(Fault("memory_leak", service=svc, magnitude=0.01))
    hworld.run(300, alerts=False)
    eng = engine_with(hworld, hworld.platform.actuator)
    ex = eng.start(incident(hworld, svc), leak_runbook(), svc, hworld.clock.now())
    assert ex is not None
    progress = ex.steps[0]["_progress"]
    assert len(progress["done"]) == max(1, int(n * 0.34)) < n  # only one batch at once
    for _ in range(80):
        hworld.clock.advance(15)
        hworld.sim.run_until(hworld.clock.now())
        eng.step(hworld.clock.now())
    ex = eng.repo.get(ex.id)
    assert ex.state == "succeeded", ex.reason
    assert hworld.sim.faults[fid].healed_by == "restart"
    actions = [r for r in hworld.platform.audit.records(limit=1000) if r.action == "heal.restart"]
    assert len(actions) == n


def test_scale_to_target_saturation_sizes_from_the_measured_saturation(hworld: HealWorld) -> None:
    w = hworld
    entry = next(s.name for s in w.sim.spec.services if s.base_rate_rps > 0)
    w.sim.inject(Fault("traffic_surge", service=entry, magnitude=10.0))
    w.run(600, alerts=False)
    rb = Runbook.model_validate({"name": "surge", "match": {"classes": ["traffic_surge"]}, "steps": [
        {"kind": "scale", "target_saturation": 0.6, "max_replicas": 500},
        {"kind": "verify", "signal": "saturation", "below": 0.7}]})  # fmt: skip
    eng = engine_with(w, w.platform.actuator)
    sat = eng._latest(entry, "saturation", w.clock.now())
    before = eng._replicas(entry, w.clock.now())
    assert sat is not None and sat > 0.9
    ex = eng.start(incident(w, entry), rb, entry, w.clock.now())
    assert ex is not None
    eng.step(w.clock.now())
    group = w.sim.primary_group(w.sim.service_id(entry))
    assert int(w.sim.groups.col("desired")[group]) == max(before + 1, math.ceil(before * sat / 0.6))


def test_dry_run_acts_on_nothing(tmp_path: Path) -> None:
    w = make_heal_world(tmp_path / "hx", {"self_healing.dry_run": True})
    svc = w.sim.names[1]
    fid = w.sim.inject(Fault("memory_leak", service=svc))
    eng = engine_with(w, w.platform.actuator)
    ex = eng.start(incident(w, svc), leak_runbook(), svc, w.clock.now())
    assert ex is not None and ex.state == "dry_run"
    assert w.sim.faults[fid].active
    timeline = w.engine.incidents.timeline(ex.incident_id)
    assert any(e["kind"] == "action" and e["detail"]["dry_run"] for e in timeline)


def test_one_execution_per_target_and_rate_limit(tmp_path: Path) -> None:
    w = make_heal_world(tmp_path / "hx", {"self_healing.max_runs_per_hour": 1})
    svc = w.sim.names[1]
    eng = engine_with(w, w.platform.actuator)
    first = eng.start(incident(w, svc), leak_runbook(), svc, w.clock.now())
    assert first is not None and first.state == "running"
    assert eng.check(leak_runbook(), svc, w.clock.now()).guardrail == "one_at_a_time"
    eng.reject(first.id, "tester")
    second = eng.start(incident(w, svc), leak_runbook(), svc, w.clock.now() + timedelta(minutes=5))
    assert second is None
    notes = [e for e in w.engine.incidents.timeline(first.incident_id) if e["kind"] == "guardrail"]
    assert notes and notes[-1]["detail"]["guardrail"] == "rate_limit"


def test_hung_actuator_is_bounded_then_escalated_and_breaker_opens(tmp_path: Path) -> None:
    w = make_heal_world(tmp_path / "hx", {"self_healing.circuit_breaker_failures": 2,
                                          "self_healing.max_runs_per_hour": 10})  # fmt: skip
    svc = w.sim.names[1]
    broken = BrokenActuator()
    eng = engine_with(w, broken)
    for k in range(2):
        now = w.clock.now() + timedelta(minutes=10 * k)
        ex = eng.start(incident(w, svc), leak_runbook(), svc, now)
        assert ex is not None
        ex = eng.advance(ex, now + timedelta(seconds=15))
        assert ex.state == "escalated" and "failed 2 times" in ex.reason
    assert broken.calls == 2 * MAX_ATTEMPTS
    verdict = eng.check(leak_runbook(), svc, w.clock.now() + timedelta(minutes=30))
    assert verdict.guardrail == "circuit_breaker"
    assert eng.reset_breaker(svc, "tester") == "open"
    w.clock.advance(60)
    assert eng.check(leak_runbook(), svc, w.clock.now()).allowed
    assert eng.reset_breaker(svc, "tester") == "closed"
    with pytest.raises(NotFound, match="no remediation has run on 'chekout'"):
        eng.reset_breaker("chekout", "tester")  # a typo was answered "closed", the real breaker left open


def test_approval_required_outside_full_auto(tmp_path: Path) -> None:
    w = make_heal_world(tmp_path / "hx")
    svc = w.sim.names[1]
    eng = engine_with(w, w.platform.actuator)
    ex = eng.start(incident(w, svc, env="staging"), leak_runbook(), svc, w.clock.now())
    assert ex is not None and ex.state == "awaiting_approval"
    ex = eng.approve(ex.id, "token:9:approver")
    assert ex.state == "running" and ex.results[0]["approved_by"] == "token:9:approver"


def test_resume_after_crash_from_the_store(tmp_path: Path) -> None:
    w = make_heal_world(tmp_path / "hx")
    svc = w.sim.names[1]
    fid = w.sim.inject(Fault("memory_leak", service=svc, magnitude=0.01))
    eng = engine_with(w, w.platform.actuator)
    ex = eng.start(incident(w, svc), leak_runbook(), svc, w.clock.now())
    assert ex is not None and ex.state == "running"
    del eng  # the process dies mid-execution; a new engine is built from the store
    fresh = engine_with(w, w.platform.actuator)
    for _ in range(80):
        w.clock.advance(15)
        w.sim.run_until(w.clock.now())
        fresh.step(w.clock.now())
    done = fresh.repo.get(ex.id)
    assert done.state == "succeeded"
    assert not w.sim.faults[fid].active
    restarted = done.steps[0]["_progress"]["done"]
    assert len(restarted) == len(set(restarted)) == len(w.sim.instances(svc))


@pytest.mark.parametrize("share", [0.5, 1.0])
def test_scale_down_beyond_blast_radius_fails(tmp_path: Path, share: float) -> None:
    from hx.heal.guardrails import blast_radius

    assert not blast_radius(int(10 * share), 10, 0.34).allowed
    assert blast_radius(3, 10, 0.34).allowed


def webhook_runbook(url: str) -> Runbook:
    return Runbook.model_validate(
        {"name": "page-the-bot", "match": {"classes": ["memory_leak"]}, "verify_required": False,
         "steps": [{"kind": "webhook", "url": url, "params": {"why": "leak"}}]}
    )  # fmt: skip


def test_the_webhook_step_retries_with_one_idempotency_key(hworld: HealWorld) -> None:
    seen: list[httpx.Request] = []
    replies = iter([httpx.Response(503, headers={"Retry-After": "2"}), httpx.Response(200, json={"ok": True})])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(replies)

    t = FakeTime()
    sender = WebhookSender(
        RetryPolicy(max_attempts=3), client=httpx.Client(transport=httpx.MockTransport(handler)), sleep=t.sleep,
        monotonic=t.monotonic,
    )  # fmt: skip
    eng = RemediationEngine(hworld.platform, hworld.platform.actuator, signal_step_s=15.0, webhooks=sender)
    svc = hworld.sim.names[0]
    ex = eng.start(incident(hworld, svc), webhook_runbook("https://hooks.example/run?token=s3cret"), svc,
                   hworld.clock.now())  # fmt: skip
    assert ex is not None
    ex = eng.repo.get(ex.id)
    assert ex.state == "succeeded", ex.reason
    assert t.sleeps == [2.0]  # the server's Retry-After, then success
    keys = {r.headers["Idempotency-Key"] for r in seen}
    assert len(seen) == 2 and len(keys) == 1
    assert json.loads(seen[0].content) == {"execution": ex.id, "incident": ex.incident_id, "target": svc,
                                            "runbook": "page-the-bot", "why": "leak"}  # fmt: skip
    details = [
        r.detail.get("detail", "") for r in hworld.platform.audit.records(limit=100) if r.action == "heal.webhook"
    ]
    assert details and "s3cret" not in str(details)


@pytest.mark.parametrize("url", ["ftp://x/y", "http:///nohost", "javascript:alert(1)"])
def test_a_webhook_step_needs_an_http_url(url: str) -> None:
    with pytest.raises(ValueError, match="http or https"):
        webhook_runbook(url)


def test_a_restart_step_with_instance_label_restarts_only_the_named_instance(hworld: HealWorld) -> None:
    """A crashed instance keeps its service below ready: restarting the others first would wait on it."""
    svc = hworld.sim.names[1]
    instances = [str(i) for i in hworld.sim.instances(svc)]
    assert len(instances) >= 2
    victim = instances[-1]
    now = hworld.clock.now()
    row = AlertRow(
        dedup_key=f"k-crash-{now.timestamp()}", source="alertmanager", group_key="", fingerprint="f-crash",
        status="firing", name="InstanceCrashed", service=svc, environment="dev", severity="critical",
        labels={"service": svc, "instance": victim, "job": "instances"}, annotations={}, starts_at=now, ends_at=None,
        received_at=now,
    )  # fmt: skip
    inc = hworld.engine.manager.apply(row, now)
    assert inc is not None
    lab_dir = Path(__file__).resolve().parents[2] / "src" / "hx" / "lab" / "runbooks"
    rb, _ = select_runbook(load_runbooks([str(lab_dir)]), "crash_loop", dict(row.labels), "dev")
    assert rb is not None and rb.name == "restart-crashed-instance"  # the lab's, more specific than the shipped one
    ex = engine_with(hworld, hworld.platform.actuator).start(inc, rb, svc, now)
    assert ex is not None and ex.steps[0]["_progress"]["done"] == [victim]
    restarted = [r.detail for r in hworld.platform.audit.records(limit=1000) if r.action == "heal.restart"]
    assert len(restarted) == 1


def test_a_service_the_world_does_not_know_fails_the_step_and_escalates(hworld: HealWorld) -> None:
    """An Alertmanager alert names a service the fleet has not got ('cart'): the restart cannot list its
    instances; the execution fails and escalates (it stayed 'running' and failed the engine at every step)."""
    rb, _ = select_runbook(load_runbooks(), "crash_loop", {}, "dev")
    assert rb is not None
    eng = engine_with(hworld, hworld.platform.actuator)
    now = hworld.clock.now()
    ex = eng.start(incident(hworld, "cart"), rb, "cart", now)
    assert ex is not None
    ex = eng.advance(ex, now + timedelta(seconds=15))
    assert ex.state == "escalated", ex
    assert "unknown service 'cart'" in ex.reason

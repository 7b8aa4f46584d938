"""The doors between engines: rollback asked by event across processes, and the rollout's ownership lease."""

from __future__ import annotations

from pathlib import Path

import pytest

from hx.deploy.component import service
from hx.deploy.records import Deployment
from hx.deploy.rollout import RolloutEngine
from hx.deploy.service import DeploymentRequest
from hx.events import DeploymentPromoted, DeploymentRollbackRefused, DeploymentRollbackRequested
from hx.heal.component import heal_engine
from hx.heal.records import AlertRow, Incident
from hx.heal.remediation import rollout_to_roll_back
from hx.heal.runbooks import load_runbooks
from hx.platform import Platform, build_platform
from hx.runtime import Runtime
from hx.security.roles import Role
from hx.store.leases import ServiceOwnership
from hx.wiring import SimEngine
from tests.deploy.conftest import World, make_world


@pytest.fixture
def dworld(tmp_path: Path) -> World:
    """Process D: the embedded fleet and the ai-orchestrator only."""
    w = make_world(tmp_path / "hx")
    w.runtime = Runtime(w.platform, [SimEngine(w.sim), service(w.platform).engine])
    return w


def _rollout(w: World, strategy: str = "rolling") -> Deployment:
    op = w.principal(Role.OPERATOR, "ci")
    req = DeploymentRequest(service=w.sim.names[0], version="v2", environment="dev", strategy=strategy)
    return w.svc.create(req, op)


def _heal_process(w: World) -> Platform:
    """Process H: self-healing on the same store and the same fleet, its own bus."""
    p = w.platform
    return build_platform(p.settings, clock=w.clock, source=p.source, actuator=p.actuator)


def _incident(h: Platform, service: str) -> Incident:
    now = h.clock.now()
    row = AlertRow(
        dedup_key=f"k-{service}", source="api", group_key="", fingerprint=f"f-{service}", status="firing",
        name="LatencyHigh", service=service, environment="dev", severity="error", labels={"service": service},
        annotations={}, starts_at=now, ends_at=None, received_at=now,
    )  # fmt: skip
    inc = heal_engine(h).manager.apply(row, now)
    assert inc is not None
    return inc


def test_heal_in_one_process_rolls_back_a_rollout_driven_by_another(dworld: World) -> None:
    d = dworld.until(_rollout(dworld).id)
    assert d.state == "promoted"
    h = _heal_process(dworld)
    rb = next(r for r in load_runbooks() if r.name == "rollback-bad-deployment")
    inc = _incident(h, d.service)
    remediation = heal_engine(h).remediation
    ex = remediation.start(inc, rb, d.service, dworld.clock.now())
    assert ex is not None and ex.state == "running" and ex.step_index == 0  # waiting for the outcome
    [req] = h.bus.read(types=["deployment.rollback_requested"])
    assert req.data["deployment"] == d.id and req.data["incident"] == inc.id
    assert dworld.svc.repo.get(d.id).state == "promoted"  # nothing happened in D yet
    dworld.run(60)  # D's engine reads the request by cursor
    back = dworld.svc.repo.get(d.id)
    assert back.state == "rolled_back" and f"incident:{inc.id}" in back.reason
    assert dworld.sim.versions(d.service) == ["v1"]
    actor = f"hx:self-healing:incident:{inc.id}"
    assert any(r.actor == actor and r.action == "deploy.rollback" for r in h.audit.records(limit=100))
    ex = remediation.advance(remediation.repo.get(ex.id), dworld.clock.now())
    assert ex.step_index == 1  # the rollback step is done: H saw deployment.rolled_back
    kinds = [t["kind"] for t in remediation.incidents.timeline(inc.id)]
    assert "rollback_requested" in kinds and "rollback_outcome" in kinds
    dworld.run(60)
    assert len(h.bus.read(types=["deployment.rollback_requested"])) == 1  # handled once
    assert dworld.svc.repo.get(d.id).state == "rolled_back"


def test_a_request_with_nothing_to_roll_back_is_refused_and_heal_sees_it(dworld: World) -> None:
    h = _heal_process(dworld)
    svc = dworld.sim.names[1]
    request = DeploymentRollbackRequested(service=svc, incident=3, reason="t")
    event = h.bus.publish(request, source="self-healing", subject=svc)
    dworld.run(15)
    [refused] = h.bus.read(types=[DeploymentRollbackRefused])
    assert isinstance(refused.payload, DeploymentRollbackRefused)
    assert refused.payload.request == event.id and "no deployment" in refused.payload.reason
    assert any(r.outcome == "refused" for r in h.audit.records(limit=20) if r.action == "deploy.rollback")


def test_a_rollout_owns_its_service_from_start_to_end(dworld: World) -> None:
    from hx.scale.component import engine as scaling_engine  # hx.scale after the lab helper's move

    owners = ServiceOwnership(dworld.platform.store, dworld.clock)
    d = _rollout(dworld, "canary")
    assert owners.owner(d.service) == f"deployment:{d.id}"
    scaler = scaling_engine(dworld.platform)
    assert scaler is not None and scaler._rollout_in_progress(d.service)
    d = dworld.until(d.id)
    assert d.state == "promoted" and owners.owner(d.service) is None
    assert not scaler._rollout_in_progress(d.service)


def test_a_crashed_owner_frees_the_service_and_a_resumed_rollout_retakes_it(dworld: World) -> None:
    owners = ServiceOwnership(dworld.platform.store, dworld.clock)
    d = _rollout(dworld, "canary")
    ttl = dworld.platform.settings.ai_orchestrator.ownership_lease_s
    dworld.clock.advance(ttl + 1)  # the process driving the rollout died: no renewals
    assert owners.owner(d.service) is None
    p = dworld.platform
    assert p.actuator is not None
    other = build_platform(p.settings, clock=dworld.clock, source=p.source, actuator=p.actuator)
    restarted = RolloutEngine(other, p.actuator)
    restarted.step(dworld.clock.now())
    assert owners.owner(d.service) == f"deployment:{d.id}"


def test_a_version_hx_did_not_deploy_is_rolled_back_through_the_actuator(dworld: World) -> None:
    """A deploy announced by another tool (no hx deployment id) is not the rollout engine's to roll back."""
    svc = dworld.sim.names[1]
    announced = DeploymentPromoted(deployment=None, version="v9", environment="dev", state="promoted", reason="ci")
    dworld.platform.bus.publish(announced, source="ci", subject=svc)
    assert rollout_to_roll_back(dworld.platform, svc) is None
    d = _rollout(dworld)
    assert rollout_to_roll_back(dworld.platform, d.service) == d.id  # hx's own rollout owns its service

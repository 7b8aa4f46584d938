"""Rollouts through the simulated fleet: promotion, automatic rollback, manual actions, unsafe changes."""

from __future__ import annotations

import pytest

from hx.deploy.service import Change, DeploymentRequest
from hx.errors import BadInput, Conflict, NotFound, Unsupported
from hx.events import EventType
from hx.security.roles import Role
from hx.sim import Fault
from tests.deploy.conftest import World


def _req(
    w: World, version: str, strategy: str | None = "canary", env: str = "dev", **change: object
) -> DeploymentRequest:
    return DeploymentRequest(
        service=w.sim.names[0], version=version, environment=env, strategy=strategy, change=Change(**change)
    )


def test_good_canary_is_promoted(world: World) -> None:
    op = world.principal(Role.OPERATOR, "ci")
    d = world.svc.create(_req(world, "v2"), op)
    assert d.state == "running" and d.strategy == "canary"
    d = world.until(d.id)
    assert d.state == "promoted", (d.reason, d.analyses)
    assert world.sim.versions(d.service) == ["v2"]
    assert all(a["status"] == "pass" for a in d.analyses)
    types = [e.type for e in world.platform.bus.read(types=[EventType.DEPLOYMENT_REQUESTED.family], limit=1000)]
    assert types[0] == EventType.DEPLOYMENT_REQUESTED and types[-1] == EventType.DEPLOYMENT_PROMOTED
    assert EventType.DEPLOYMENT_ANALYSIS in types


def test_bad_canary_is_rolled_back_with_reasons(world: World) -> None:
    op = world.principal(Role.OPERATOR, "ci")
    d = world.svc.create(_req(world, "v9"), op)
    world.sim.inject(Fault("latency_regression", service=d.service, version="v9", magnitude=0.3))
    d = world.until(d.id)
    assert d.state == "rolled_back"
    assert "latency" in d.reason
    failed = [a for a in d.analyses if a["status"] == "fail"]
    assert failed and any(m["status"] == "fail" and m["name"].startswith("latency") for m in failed[0]["metrics"])
    assert world.sim.versions(d.service) == ["v1"]
    # the rollback happened at an early canary step, not after full exposure
    assert len(d.analyses) <= 2


def test_one_rollout_per_service_and_bad_requests(world: World) -> None:
    op = world.principal(Role.OPERATOR, "ci")
    world.svc.create(_req(world, "v2"), op)
    with pytest.raises(Conflict, match="already in progress"):
        world.svc.create(_req(world, "v3"), op)
    with pytest.raises(NotFound, match="unknown service"):
        world.svc.create(DeploymentRequest(service="nope", version="v2", environment="dev"), op)
    other = DeploymentRequest(service=world.sim.names[1], version="v1", environment="dev")
    with pytest.raises(BadInput, match="already runs"):
        world.svc.create(other, op)
    with pytest.raises(BadInput, match="downtime"):
        world.svc.create(_req(world, "v5", strategy="recreate").model_copy(update={"service": world.sim.names[1]}), op)


def test_strategy_the_actuator_cannot_do_is_refused(world: World) -> None:
    from hx.actuate.base import Capability

    class NoSplit:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def capabilities(self) -> frozenset[Capability]:
            return frozenset({Capability.DEPLOY})

    world.svc.actuator = NoSplit(world.svc.actuator)  # type: ignore[assignment]
    with pytest.raises(Unsupported, match="set_traffic_split"):
        world.svc.create(_req(world, "v2"), world.principal(Role.OPERATOR, "ci"))
    assert world.svc.repo.list() == []  # nothing half-done


def test_pause_resume_promote_abort(world: World) -> None:
    op = world.principal(Role.OPERATOR, "ci")
    apr = world.principal(Role.APPROVER, "lead")
    d = world.svc.create(_req(world, "v2"), op)
    d = world.svc.pause(d.id, op)
    idx = d.step_index
    world.run(900)
    assert world.svc.repo.get(d.id).step_index == idx  # paused means nothing moves
    world.svc.resume(d.id, op)
    d = world.svc.promote(d.id, apr)
    d = world.until(d.id)
    assert d.state == "promoted" and world.sim.versions(d.service) == ["v2"]
    d2 = world.svc.create(_req(world, "v3"), op)
    d2 = world.svc.abort(d2.id, op)
    d2 = world.until(d2.id)
    assert d2.state == "aborted" and world.sim.versions(d2.service) == ["v2"]
    with pytest.raises(Conflict):
        world.svc.pause(d2.id, op)
    with pytest.raises(Conflict, match="nothing to abort$"):  # it said "nothing to aborted"
        world.svc.abort(d.id, op)


def test_a_rollout_aborted_while_awaiting_approval_ends_aborted(world: World) -> None:
    """Its new version was never deployed: the rollback sends it no traffic and retires nothing (the simulated fleet
    refused a weight of 0 for a version it did not know, so the abort answered 404 and left it rolling back)."""
    op = world.principal(Role.OPERATOR, "ci")
    d = world.svc.create(_req(world, "v7", env="staging"), op)
    assert d.state == "awaiting_approval" and d.step_index == 0
    d = world.svc.abort(d.id, op)
    d = world.until(d.id)
    assert d.state == "aborted" and world.sim.versions(d.service) == ["v1"]


def test_an_actuator_refusing_a_rollback_step_fails_the_rollout_for_a_person(world: World) -> None:
    """The fleet's refusal (any hx error, not only ActuatorError) is the step's failure: the rollout ends failed and
    asks for a person; the abort is not answered with the fleet's error while the rollout is left rolling back."""
    op = world.principal(Role.OPERATOR, "ci")
    d = world.svc.create(_req(world, "v2"), op)
    world.run(120)

    def refuse(service: str, weights: dict[str, float]) -> None:
        raise NotFound(f"unknown version of {service}", field="version")

    world.svc.engine.actuator.set_traffic_split = refuse  # type: ignore[method-assign,assignment]
    d = world.svc.abort(d.id, op)
    assert d.state == "failed" and "rollback step failed: unknown version of" in d.reason, d.reason
    failed = world.platform.bus.read(types=[EventType.DEPLOYMENT_FAILED])
    assert failed and "a person" in failed[-1].data["needs"]


def test_unsafe_rollback_pauses_for_a_person(world: World) -> None:
    op = world.principal(Role.OPERATOR, "ci")
    d = world.svc.create(_req(world, "v9", migration=True), op)
    world.sim.inject(Fault("error_spike", service=d.service, version="v9", magnitude=0.3))
    d = world.until(d.id)
    assert d.state == "needs_person" and "unsafe" in d.reason
    assert "v9" in world.sim.versions(d.service)  # nothing was rolled back behind the person's back
    d = world.svc.rollback(d.id, op)  # the person decides
    d = world.until(d.id)
    assert d.state == "rolled_back"

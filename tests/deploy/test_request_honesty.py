"""A deployment request is taken as asked: an unknown environment is refused naming the known ones (not run as
"manual only in <it>"), and the recorded decision's strategy is the one requested."""

from __future__ import annotations

import pytest

from hx.deploy.service import DeploymentRequest
from hx.errors import BadInput
from hx.security.roles import Role
from tests.deploy.conftest import World


def test_an_unknown_environment_is_refused_naming_the_known_ones(world: World) -> None:
    req = DeploymentRequest(service=world.sim.names[0], version="v2", environment="weird", strategy="canary")
    with pytest.raises(BadInput) as info:
        world.svc.create(req, world.principal(Role.OPERATOR, "ci"))
    assert info.value.status < 500 and "weird" in str(info.value)
    for env in ("dev", "test", "staging", "prod"):
        assert env in str(info.value)
    assert world.svc.repo.active_for(world.sim.names[0]) is None


def test_the_decision_reports_the_requested_strategy(world: World) -> None:
    op = world.principal(Role.OPERATOR, "ci")
    # a one-line change: the decision engine alone would roll it out ("rolling")
    auto = world.svc.create(DeploymentRequest(service=world.sim.names[1], version="v2", environment="dev"), op)
    assert auto.decision["strategy"] == auto.strategy and auto.decision["requested_strategy"] is None
    req = DeploymentRequest(service=world.sim.names[0], version="v2", environment="dev", strategy="canary")
    d = world.svc.create(req, op)
    assert d.strategy == "canary" and d.decision["strategy"] == "canary"
    assert d.decision["requested_strategy"] == "canary" and d.decision["decided_strategy"] == auto.strategy
    assert "canary was requested" in d.decision["reason"]

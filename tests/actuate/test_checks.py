"""The shipped actuator contract (hx.actuate.checks) over every actuator that runs without a server.

The Ansible actuator needs ansible-playbook and runs in tests/integration/test_ansible_actuator.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx
import pytest

from hx.actuate.audited import AuditedActuator
from hx.actuate.base import ActionResult, Actuator, Capability
from hx.actuate.checks import Check, Targets, check_actuator, yield_checks
from hx.actuate.http import HttpActuator, Webhook
from hx.actuate.shell import ShellActuator
from hx.checks import check_name
from hx.sim import Simulation
from hx.sim.actuator import SimActuator
from hx.sim.spec import make_fleet

Setup = Callable[[], tuple[Callable[[], Actuator], Targets]]


def sim() -> tuple[Callable[[], Actuator], Targets]:
    def build() -> Actuator:
        s = Simulation(make_fleet(2, seed=0))
        return SimActuator(s)

    probe = Simulation(make_fleet(2, seed=0))
    svc = probe.names[0]
    version = probe.versions(svc)[0]
    targets = Targets(svc, probe.instances(svc)[0], weights={version: 0.9, "v2": 0.1}, params={"service": svc})
    return build, targets


def audited() -> tuple[Callable[[], Actuator], Targets]:
    build, targets = sim()
    seen: list[ActionResult] = []
    return (lambda: AuditedActuator(build(), seen.append)), targets


def shell() -> tuple[Callable[[], Actuator], Targets]:
    # scale and restart only: the other verbs must be refused as undeclared
    templates = {"scale": ["true", "{service}", "{replicas}"], "restart": ["true", "{instance}"]}
    return (lambda: ShellActuator(templates)), Targets("api", "api-1")


def http() -> tuple[Callable[[], Actuator], Targets]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"changed": True})

    def build() -> Actuator:
        client = httpx.Client(transport=httpx.MockTransport(answer))
        hooks = {"scale": Webhook("http://act.example/scale/{service}"), "deploy": Webhook("http://act.example/d")}
        return HttpActuator(hooks, actions={"flush": Webhook("http://act.example/flush")}, client=client)

    return build, Targets("api", "api-1", action="flush", params={"ttl": 30})


SETUPS: dict[str, Setup] = {"sim": sim, "audited": audited, "shell": shell, "http": http}
CASES = [(n, c) for n in SETUPS for c in yield_checks()]


@pytest.mark.parametrize(("name", "check"), CASES, ids=[f"{n}-{check_name(c)}" for n, c in CASES])
def test_contract(name: str, check: Check) -> None:
    check(*SETUPS[name]())


class Overclaiming:
    """Declares RESTART but answers it with a bare dict: the shipped contract must catch it."""

    name = "overclaiming"

    def capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.RESTART})

    def restart(self, instance: str, *, timeout: float = 60.0) -> Any:
        return {"ok": True}

    def _unsupported(self, *args: Any, **kwargs: Any) -> ActionResult:
        from hx.errors import Unsupported

        raise Unsupported("not declared")

    scale = set_traffic_split = deploy = _unsupported

    def run(self, action: str, params: Mapping[str, Any], *, timeout: float = 300.0) -> ActionResult:
        return self._unsupported()


def test_the_shipped_check_catches_a_result_in_the_wrong_shape() -> None:
    with pytest.raises(AssertionError, match="restart must return an ActionResult, got dict"):
        check_actuator(Overclaiming, Targets("api", "api-1"))

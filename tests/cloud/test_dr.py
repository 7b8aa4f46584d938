from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from hx.actuate.base import ActionResult, Capability
from hx.clock import SimClock
from hx.cloud.catalog import Catalog
from hx.cloud.dr import choose_strategy, drill, plan_dr
from hx.cloud.placement import place
from hx.cloud.workload import Estate, Workload

CAT = Catalog.builtin()


class FakeActuator:
    """Test double of the Actuator protocol: each verb takes a fixed simulated time."""

    name = "fake"

    def __init__(self, clock: SimClock, seconds: dict[str, float], fail: str | None = None) -> None:
        self.clock, self.seconds, self.fail, self.calls = clock, seconds, fail, []  # type: ignore[var-annotated]

    def capabilities(self) -> frozenset[Capability]:
        return frozenset(Capability)

    def _do(self, verb: str, target: str) -> ActionResult:
        self.calls.append((verb, target))
        self.clock.advance(self.seconds.get(verb, 1.0))
        return ActionResult(verb=verb, target=target, ok=verb != self.fail)

    def scale(self, service: str, replicas: int, *, timeout: float = 60.0) -> ActionResult:
        return self._do("scale", service)

    def set_traffic_split(self, service: str, weights: Mapping[str, float], *, timeout: float = 60.0) -> ActionResult:
        return self._do("set_traffic_split", service)

    def deploy(self, service: str, version: str, instances: int, *, timeout: float = 300.0) -> ActionResult:
        return self._do("deploy", service)

    def restart(self, instance: str, *, timeout: float = 60.0) -> ActionResult:
        return self._do("restart", instance)

    def run(self, action: str, params: Mapping[str, Any], *, timeout: float = 300.0) -> ActionResult:
        return self._do("run", action)


@pytest.mark.parametrize(
    ("rpo", "rto", "strategy"),
    [
        (1, 30, "active_active"),
        (60, 600, "warm_standby"),
        (3600, 7200, "pilot_light"),
        (86400, 86400, "backup_restore"),
        (60, 86400, "pilot_light"),
    ],
)
def test_strategy_follows_rpo_rto(rpo: float, rto: float, strategy: str) -> None:
    assert choose_strategy(rpo, rto)[0] == strategy


def _estate() -> Estate:
    return Estate(
        workloads=[
            Workload(name="eu", vcpus=2, memory_gib=8, replicas=2, jurisdictions=["EU"], rto_s=600, rpo_s=60),
            Workload(name="batch", vcpus=2, memory_gib=4, rto_s=86400, rpo_s=86400),
        ]
    )


def test_standby_obeys_residency_and_costs_extra() -> None:
    est = _estate()
    plans = {p.workload: p for p in plan_dr(est, place(est, CAT), CAT)}
    eu = plans["eu"]
    assert eu.strategy == "warm_standby"
    assert (
        CAT.region(
            CAT.regions_by_loc[next(k for k in CAT.regions_by_loc if str(k) == eu.standby)].location
        ).jurisdiction
        == "EU"
    )
    assert eu.standby.split(":")[0] != eu.primary.split(":")[0]
    assert eu.extra_usd_per_hour > plans["batch"].extra_usd_per_hour > 0
    assert [s.verb for s in eu.runbook][-2:] == ["set_traffic_split", "run"]


def test_drill_measures_rto_on_the_clock() -> None:
    est = _estate()
    eu = plan_dr(est, place(est, CAT), CAT)[0]
    clock = SimClock(datetime(2026, 1, 1, tzinfo=UTC))
    act = FakeActuator(clock, {"run": 60, "scale": 120, "set_traffic_split": 5})
    res = drill(eu, act, clock)
    assert res.ok and res.met and res.achieved_rto_s == pytest.approx(60 + 120 + 5 + 60)
    slow = drill(eu, FakeActuator(clock, {"scale": 900}), clock)
    assert slow.ok and not slow.met
    failed = drill(eu, FakeActuator(clock, {}, fail="scale"), clock)
    assert not failed.ok and failed.steps[-1]["verb"] == "scale"

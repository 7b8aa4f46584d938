"""AuditedActuator records every call, failures included, and re-raises."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from hx.actuate.audited import AuditedActuator
from hx.actuate.base import ActionResult, Capability
from hx.errors import ActuatorTimeout, BadInput


class Scripted:
    """An in-memory actuator whose verbs return or raise what the test says."""

    name = "scripted"

    def __init__(self, outcome: ActionResult | Exception) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, tuple[Any, ...], float]] = []

    def capabilities(self) -> frozenset[Capability]:
        return frozenset(Capability)

    def _do(self, verb: str, args: tuple[Any, ...], timeout: float) -> ActionResult:
        self.calls.append((verb, args, timeout))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome

    def scale(self, service: str, replicas: int, *, timeout: float = 60.0) -> ActionResult:
        return self._do("scale", (service, replicas), timeout)

    def set_traffic_split(self, service: str, weights: Mapping[str, float], *, timeout: float = 60.0) -> ActionResult:
        return self._do("set_traffic_split", (service, dict(weights)), timeout)

    def deploy(self, service: str, version: str, instances: int, *, timeout: float = 300.0) -> ActionResult:
        return self._do("deploy", (service, version, instances), timeout)

    def restart(self, instance: str, *, timeout: float = 60.0) -> ActionResult:
        return self._do("restart", (instance,), timeout)

    def run(self, action: str, params: Mapping[str, Any], *, timeout: float = 300.0) -> ActionResult:
        return self._do("run", (action, dict(params)), timeout)


OK = ActionResult("scale", "api", True, "done")


def test_every_verb_is_forwarded_and_recorded() -> None:
    inner = Scripted(OK)
    seen: list[ActionResult] = []
    act = AuditedActuator(inner, seen.append)
    assert act.name == "scripted" and act.capabilities() == frozenset(Capability)
    act.scale("api", 3, timeout=1)
    act.set_traffic_split("api", {"v1": 1.0}, timeout=2)
    act.deploy("api", "v2", 2, timeout=3)
    act.restart("api-1", timeout=4)
    act.run("flush", {"ttl": 5}, timeout=5)
    assert [c[0] for c in inner.calls] == ["scale", "set_traffic_split", "deploy", "restart", "run"]
    assert [c[2] for c in inner.calls] == [1, 2, 3, 4, 5]
    assert seen == [OK] * 5


@pytest.mark.parametrize(("error", "unknown"), [(ActuatorTimeout("too slow"), True), (BadInput("bad"), False)])
def test_failures_are_recorded_then_reraised(error: Exception, unknown: bool) -> None:
    seen: list[ActionResult] = []
    act = AuditedActuator(Scripted(error), seen.append)
    with pytest.raises(type(error)) as raised:
        act.restart("api-1")
    assert raised.value is error
    (record,) = seen
    assert (record.verb, record.target, record.ok, record.changed) == ("restart", "api-1", False, False)
    assert record.output["error"] == type(error).__name__
    assert record.output["outcome_unknown"] is unknown
    assert str(error) in record.detail


def test_a_failing_recorder_is_not_swallowed() -> None:
    def broken(_: ActionResult) -> None:
        raise OSError("audit log full")

    with pytest.raises(OSError, match="audit log full"):
        AuditedActuator(Scripted(OK), broken).scale("api", 1)

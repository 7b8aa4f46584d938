"""The actuator contract, shipped with the library so the author of an actuator can run it on their own.

An actuator under check comes with a :class:`Targets`: names its backend knows (a service, one of its instances, a
version to deploy, a ``run`` action).  ``yield_checks()`` yields the checks one by one; ``check_actuator(factory,
targets)`` runs them all, each on a fresh actuator from ``factory``.  The promises:

- ``capabilities()`` is a frozenset of :class:`~hx.actuate.base.Capability`: the verbs it can carry out;
- every verb it declares, called with valid arguments, returns an :class:`~hx.actuate.base.ActionResult` in the
  documented shape (``verb`` the verb called, ``target`` naming what it acted on, ``ok``/``changed`` booleans,
  ``detail`` a string, ``output`` a mapping, ``duration_s`` a finite number >= 0);
- every verb it does not declare raises :class:`~hx.errors.Unsupported` (before touching anything);
- a ``run`` of an action it does not know, or a negative replica count, raises :class:`~hx.errors.BadInput`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hx.actuate.base import ActionResult, Actuator, Capability
from hx.checks import expect, expect_raises
from hx.errors import BadInput, Unsupported

TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Targets:
    """Names the actuator's backend knows, for the calls the checks make."""

    service: str
    instance: str
    version: str = "v2"
    replicas: int = 2
    instances: int = 1
    #: weights over versions the service has once ``version`` is deployed
    weights: Mapping[str, float] = field(default_factory=lambda: {"v1": 0.9, "v2": 0.1})
    action: str = "restart_service"
    params: Mapping[str, Any] = field(default_factory=dict)


Factory = Callable[[], Actuator]
Check = Callable[[Factory, Targets], None]
Call = Callable[[Actuator, Targets], ActionResult]

#: one valid call per verb, in an order a backend can follow (deploy before the split that names the new version)
CALLS: tuple[tuple[Capability, str, Call], ...] = (
    (Capability.SCALE, "scale", lambda a, t: a.scale(t.service, t.replicas, timeout=TIMEOUT_S)),
    (Capability.DEPLOY, "deploy", lambda a, t: a.deploy(t.service, t.version, t.instances, timeout=TIMEOUT_S)),
    (Capability.TRAFFIC_SPLIT, "set_traffic_split", lambda a, t: a.set_traffic_split(t.service, t.weights)),
    (Capability.RESTART, "restart", lambda a, t: a.restart(t.instance, timeout=TIMEOUT_S)),
    (Capability.RUN, "run", lambda a, t: a.run(t.action, dict(t.params), timeout=TIMEOUT_S)),
)


def check_capabilities_are_data(factory: Factory, targets: Targets) -> None:
    caps = factory().capabilities()
    expect(isinstance(caps, frozenset), f"capabilities() must be a frozenset, got {type(caps).__name__}")
    expect(all(isinstance(c, Capability) for c in caps), f"capabilities() must hold Capability members: {caps}")


def check_declared_verbs_report_results(factory: Factory, targets: Targets) -> None:
    act = factory()
    caps = act.capabilities()
    for cap, verb, call in CALLS:
        if cap in caps:
            _expect_result(call(act, targets), verb, targets)


def check_undeclared_verbs_are_unsupported(factory: Factory, targets: Targets) -> None:
    act = factory()
    caps = act.capabilities()
    for cap, verb, call in CALLS:
        if cap not in caps:
            expect_raises(Unsupported, functools.partial(call, act, targets), f"{verb}, which is not declared")


def check_bad_arguments_are_refused(factory: Factory, targets: Targets) -> None:
    act = factory()
    caps = act.capabilities()
    if Capability.SCALE in caps:
        expect_raises(BadInput, lambda: act.scale(targets.service, -1, timeout=TIMEOUT_S), "scale to -1 replicas")
    if Capability.RUN in caps:
        expect_raises(BadInput, lambda: act.run("no_such_action", {}, timeout=TIMEOUT_S), "run of an unknown action")


def _expect_result(r: object, verb: str, t: Targets) -> None:
    if not isinstance(r, ActionResult):
        raise AssertionError(f"{verb} must return an ActionResult, got {type(r).__name__}")
    allowed = {verb, t.action} if verb == "run" else {verb}
    expect(r.verb in allowed, f"{verb}: result.verb is {r.verb!r}")
    expect(isinstance(r.target, str) and bool(r.target), f"{verb}: result.target must name what was acted on")
    expect(isinstance(r.ok, bool) and isinstance(r.changed, bool), f"{verb}: ok and changed must be booleans")
    expect(isinstance(r.detail, str) and isinstance(r.output, Mapping), f"{verb}: detail str, output mapping")
    expect(math.isfinite(r.duration_s) and r.duration_s >= 0, f"{verb}: duration_s {r.duration_s!r}")


def yield_checks() -> Iterator[Check]:
    """Every actuator check."""
    yield check_capabilities_are_data
    yield check_declared_verbs_report_results
    yield check_undeclared_verbs_are_unsupported
    yield check_bad_arguments_are_refused


def check_actuator(factory: Factory, targets: Targets) -> None:
    """Run every check, each on a fresh actuator from ``factory``; AssertionError on the first broken promise."""
    for check in yield_checks():
        check(factory, targets)

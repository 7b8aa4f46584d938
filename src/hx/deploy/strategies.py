"""Deployment strategies as plans of steps.

A plan is a list of plain dict steps (so it persists as JSON and replays after a crash):

- ``deploy``   {version, instances}        bring a version to N instances (idempotent: sets the count)
- ``traffic``  {weights: {version: pct}}   route traffic between versions
- ``analyze``  {duration_s}                 wait, then judge the new version against the old one running at the
                                            same time (so analyses sit where both versions carry traffic)
- ``approval`` {reason}                     wait for an approver (segregation of duties, TOTP in prod)
- ``wait``     {duration_s}                 bake time / rollback window
- ``retire``   {version}                    scale a version to zero
- ``ready``    {version, instances, timeout_s} wait until that many instances of the version are ready

Each strategy names the actuator capabilities it needs; the check lives in one place
(:func:`check_capabilities`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hx.actuate.base import Capability
from hx.errors import BadInput, Unsupported

Step = dict[str, Any]

STRATEGIES = ("rolling", "blue_green", "canary", "recreate", "conservative")

REQUIRED: dict[str, frozenset[Capability]] = {
    "rolling": frozenset({Capability.DEPLOY, Capability.TRAFFIC_SPLIT}),
    "blue_green": frozenset({Capability.DEPLOY, Capability.TRAFFIC_SPLIT}),
    "canary": frozenset({Capability.DEPLOY, Capability.TRAFFIC_SPLIT}),
    "recreate": frozenset({Capability.DEPLOY}),
    "conservative": frozenset({Capability.DEPLOY, Capability.TRAFFIC_SPLIT}),
}


@dataclass(frozen=True)
class PlanInput:
    service: str
    old_version: str
    new_version: str
    replicas: int
    analysis_s: float = 300.0
    canary_steps: Sequence[float] = (5.0, 25.0, 50.0, 100.0)
    downtime_allowed: bool = False


def check_capabilities(strategy: str, available: frozenset[Capability], *, actuator: str = "") -> None:
    """Refuse a strategy the actuator cannot perform, naming the strategy, what is missing and the actuator."""
    if strategy not in REQUIRED:
        raise BadInput(f"unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}", field="strategy")
    missing = REQUIRED[strategy] - available
    if missing:
        names = ", ".join(sorted(c.value for c in missing))
        router = " (a traffic router)" if Capability.TRAFFIC_SPLIT in missing else ""
        which = f"actuator {actuator!r}" if actuator else "the actuator"
        raise Unsupported(
            f"strategy {strategy!r} needs {names}{router}, which {which} does not have; "
            "pick a strategy it can carry out or configure what is missing",
            field="strategy",
            strategy=strategy,
            missing=sorted(c.value for c in missing),
        )


def _split(old: str, new: str, pct: float) -> Step:
    pct = max(0.0, min(100.0, pct))
    return {"kind": "traffic", "weights": {old: round(100.0 - pct, 3), new: round(pct, 3)}}


def rolling(p: PlanInput, batch_size: int | None = None, max_unavailable: int = 0) -> list[Step]:
    """Replace instances in batches; traffic follows the instance counts; a health analysis after each batch."""
    if max_unavailable < 0:
        raise BadInput("max_unavailable must be >= 0", field="max_unavailable")
    batch = batch_size or max(1, math.ceil(p.replicas / 4))
    steps: list[Step] = []
    done = 0
    while done < p.replicas:
        done = min(p.replicas, done + batch)
        steps.append({"kind": "deploy", "version": p.new_version, "instances": done})
        steps.append(_split(p.old_version, p.new_version, 100.0 * done / p.replicas))
        keep_old = max(0, p.replicas - done - max_unavailable) if done < p.replicas else 0
        if done < p.replicas:
            steps.append({"kind": "deploy", "version": p.old_version, "instances": max(keep_old, p.replicas - done)})
            steps.append({"kind": "analyze", "duration_s": p.analysis_s})
    steps.append({"kind": "retire", "version": p.old_version})
    return steps


def blue_green(p: PlanInput, rollback_window_s: float = 900.0) -> list[Step]:
    """Bring up the full new set, verify it, switch all traffic, keep the old set for a window, retire it."""
    return [
        {"kind": "deploy", "version": p.new_version, "instances": p.replicas},
        _split(p.old_version, p.new_version, 5.0),
        {"kind": "analyze", "duration_s": p.analysis_s},
        _split(p.old_version, p.new_version, 100.0),
        {"kind": "wait", "duration_s": rollback_window_s},
        {"kind": "retire", "version": p.old_version},
    ]


def canary(p: PlanInput, steps: Sequence[float] | None = None, approval_before_last: bool = False) -> list[Step]:
    """Weight steps with an analysis at each, e.g. 5 -> 25 -> 50 -> 100 %."""
    weights = list(steps or p.canary_steps)
    if not weights or any(not 0 < w <= 100 for w in weights) or weights != sorted(weights):
        raise BadInput("canary steps must be increasing percentages in (0, 100]", field="canary.steps")
    if weights[-1] != 100.0:
        weights.append(100.0)
    plan: list[Step] = []
    for i, w in enumerate(weights):
        need = max(1, math.ceil(p.replicas * w / 100.0))
        last = i == len(weights) - 1
        if last and approval_before_last:
            plan.append({"kind": "approval", "reason": "before shifting all traffic to the new version"})
        plan.append({"kind": "deploy", "version": p.new_version, "instances": need})
        plan.append(_split(p.old_version, p.new_version, w))
        if not last:  # at 100 % there is no concurrent baseline left to compare with
            plan.append({"kind": "analyze", "duration_s": p.analysis_s})
    plan.append({"kind": "retire", "version": p.old_version})
    return plan


def recreate(p: PlanInput) -> list[Step]:
    """Stop the old version, start the new one: downtime, so only where it is allowed."""
    if not p.downtime_allowed:
        raise BadInput("recreate causes downtime; set change.downtime_allowed to use it", field="strategy")
    return [
        {"kind": "retire", "version": p.old_version},
        {"kind": "deploy", "version": p.new_version, "instances": p.replicas},
        _split(p.old_version, p.new_version, 100.0),
    ]


def conservative(p: PlanInput) -> list[Step]:
    """The fallback: small canary steps, long analyses, a person approves before the last step."""
    slow = PlanInput(**{**p.__dict__, "analysis_s": p.analysis_s * 2})
    return canary(slow, steps=(1.0, 5.0, 10.0, 25.0, 50.0, 100.0), approval_before_last=True)


def build_plan(strategy: str, p: PlanInput) -> list[Step]:
    if p.replicas < 1:
        raise BadInput("the service has no replicas to roll out to", field="replicas")
    builders: dict[str, Callable[[PlanInput], list[Step]]] = {
        "rolling": rolling,
        "blue_green": blue_green,
        "canary": canary,
        "recreate": recreate,
        "conservative": conservative,
    }
    if strategy not in builders:
        raise BadInput(f"unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}", field="strategy")
    return with_readiness(builders[strategy](p))


def with_readiness(plan: list[Step], timeout_s: float = 900.0) -> list[Step]:
    """After every deploy that brings instances up, wait for them to be ready before traffic moves."""
    out: list[Step] = []
    for step in plan:
        out.append(step)
        if step["kind"] == "deploy" and int(step["instances"]) > 0:
            out.append(
                {"kind": "ready", "version": step["version"], "instances": step["instances"], "timeout_s": timeout_s}
            )
    return out


def rollback_plan(service_replicas: int, old_version: str, new_version: str) -> list[Step]:
    """Put the old version back at full strength, move all traffic to it, retire the new one."""
    return with_readiness(
        [
            {"kind": "deploy", "version": old_version, "instances": service_replicas},
            {"kind": "traffic", "weights": {old_version: 100.0, new_version: 0.0}},
            {"kind": "retire", "version": new_version},
        ]
    )

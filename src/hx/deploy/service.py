"""Deployment requests and the actions people take on them (approve, pause, resume, promote, abort, rollback)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from hx.actuate.base import Actuator
from hx.deploy import decision as decision_mod
from hx.deploy.records import Deployment, DeploymentRepo
from hx.deploy.risk import assess
from hx.deploy.rollout import RolloutEngine
from hx.deploy.strategies import PlanInput, build_plan, check_capabilities, rollback_plan
from hx.errors import BadInput, Conflict, Forbidden, NotFound, TelemetryError
from hx.events import (
    DeploymentApproved,
    DeploymentDecided,
    DeploymentPaused,
    DeploymentPayload,
    DeploymentRequested,
    DeploymentResumed,
)
from hx.platform import Platform
from hx.quiet import active_rule
from hx.security.roles import Role
from hx.security.tokens import Principal
from hx.telemetry.base import SourceCapability, supports, versions_of


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines_changed: int = Field(0, ge=0)
    files_changed: int = Field(0, ge=0)
    migration: bool = False
    downtime_allowed: bool = False
    description: str = ""
    commit: str | None = None


class DeploymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=200)
    environment: str = Field(min_length=1, max_length=100)
    strategy: Literal["rolling", "blue_green", "canary", "recreate", "conservative"] | None = None
    from_version: str | None = None
    change: Change = Field(default_factory=Change)


class DeploymentService:
    def __init__(self, platform: Platform, actuator: Actuator, engine: RolloutEngine) -> None:
        self.platform = platform
        self.actuator = actuator
        self.engine = engine
        self.repo = DeploymentRepo(platform.store)

    # ---- discovery ---------------------------------------------------------------------------

    def _current(self, service: str, now: datetime, override: str | None) -> tuple[str, int]:
        source = self.platform.source
        if source is None:
            raise BadInput("no signal source configured: cannot see the service", field="service")
        if service not in source.services():
            raise NotFound(f"unknown service {service!r}; known: {', '.join(sorted(source.services())[:20])}")
        versions = versions_of(source).versions(service) if supports(source, SourceCapability.VERSIONS) else []
        if override is not None:
            if versions and override not in versions:
                raise BadInput(f"{service} does not run version {override!r}; it runs {versions}", field="from_version")
            current = override
        elif len(versions) == 1:
            current = versions[0]
        elif not versions:
            raise BadInput("the signal source cannot tell the running version; give from_version", field="from_version")
        else:
            raise Conflict(f"{service} runs several versions {versions}: finish that rollout first")
        try:
            rep = source.signal(service, "replicas", now - timedelta(minutes=5), now, 60)
        except TelemetryError as err:
            raise BadInput(f"cannot read the replicas of {service}: {err}", field="service") from err
        finite = rep.values[np.isfinite(rep.values)]
        replicas = round(float(finite[-1])) if finite.size else 0
        if replicas < 1:
            raise BadInput(f"{service} has no running replicas to roll out to", field="service")
        return current, replicas

    # ---- create --------------------------------------------------------------------------------

    def create(self, req: DeploymentRequest, principal: Principal) -> Deployment:
        now = self.platform.clock.now()
        settings = self.platform.settings
        known = settings.known_environments()
        if req.environment not in known:
            raise BadInput(
                f"unknown environment {req.environment!r}; the known environments are {', '.join(known)} "
                "(ai_orchestrator.automation_levels)",
                field="environment",
            )
        self._refuse_if_frozen(req, principal, now)
        if self.repo.active_for(req.service) is not None:
            raise Conflict(f"a rollout of {req.service} is already in progress; finish or abort it first")
        current, replicas = self._current(req.service, now, req.from_version)
        if req.version == current:
            raise BadInput(f"{req.service} already runs {req.version}", field="version")
        risk = assess(self.platform.source, self.platform.bus, self.repo, req.service, req.change.model_dump(), now)  # type: ignore[arg-type]
        self.engine.model.refresh()
        handle = self.engine.model.handle
        de = settings.ai_orchestrator.decision_engine
        dec = decision_mod.decide(risk, handle, de.confidence_threshold, de.fallback_strategy)
        strategy = req.strategy or dec.strategy
        check_capabilities(
            strategy,
            self.actuator.capabilities(),
            actuator=getattr(self.actuator, "name", type(self.actuator).__name__),
        )
        canary = settings.ai_orchestrator.canary
        p = PlanInput(
            req.service,
            current,
            req.version,
            replicas,
            canary.analysis_interval_s,
            tuple(canary.steps),
            req.change.downtime_allowed,
        )
        plan = build_plan(strategy, p)
        level = settings.automation_level(req.environment)
        if level != "full_auto":
            plan = [{"kind": "approval", "reason": f"{level.replace('_', ' ')} in {req.environment}"}, *plan]
        if level == "manual_only" and not any(s["kind"] == "approval" for s in plan[1:]):
            last = max(i for i, s in enumerate(plan) if s["kind"] == "traffic")
            plan.insert(last, {"kind": "approval", "reason": "before shifting all traffic (manual_only)"})
        d = Deployment(
            id=0,
            service=req.service,
            environment=req.environment,
            version=req.version,
            from_version=current,
            strategy=strategy,
            state="running",
            phase="forward",
            step_index=0,
            step_started_at=None,
            replicas=replicas,
            plan=plan,
            rollback_plan=rollback_plan(replicas, current, req.version),
            requested_by=principal.actor,
            approvals=[],
            risk=risk.to_json(),
            decision=_decision_json(dec, req.strategy, level),
            change=req.change.model_dump(),
            unsafe_rollback=req.change.migration,
            analyses=[],
            reason="",
            created_at=now,
            updated_at=now,
            finished_at=None,
        )
        d = self.repo.insert(d)
        self._publish(DeploymentRequested, d, {"requested_by": principal.actor, "change": d.change})
        self._publish(DeploymentDecided, d, {"strategy": strategy, "risk": d.risk, "decision": d.decision})
        return self.engine.advance(d, now)

    def _refuse_if_frozen(self, req: DeploymentRequest, principal: Principal, now: datetime) -> None:
        """A change freeze over the service and environment refuses the rollout, naming the freeze (audited)."""
        rule = active_rule(self.platform.store, "freeze", now, req.service, req.environment)
        if rule is None:
            return
        detail = {"freeze": rule.id, "reason": rule.reason, "by": rule.created_by, "until": rule.ends_at.isoformat(),
                  "version": req.version}  # fmt: skip
        self.platform.audit.append(principal.actor, "deployment.refused", f"{req.service}@{req.environment}",
                                   "refused", detail)  # fmt: skip
        raise Conflict(f"change freeze: {rule.describe()}; no new rollouts of {req.service} in {req.environment}",
                       freeze=rule.id, freeze_reason=rule.reason, freeze_until=rule.ends_at.isoformat())  # fmt: skip

    # ---- people's actions -------------------------------------------------------------------------

    def approve(self, dep_id: int, principal: Principal, otp: str | None) -> Deployment:
        d = self.repo.get(dep_id)
        if d.state != "awaiting_approval":
            raise Conflict(f"deployment {dep_id} is {d.state}, not awaiting approval")
        if not principal.role.allows(Role.APPROVER):
            raise Forbidden("approving needs the approver role")
        level = self.platform.settings.automation_level(d.environment)
        if level == "manual_only":
            if _same_token(principal.actor, d.requested_by):
                raise Forbidden("segregation of duties: the requester cannot approve their own production change")
            if "prod_approval" in self.platform.settings.security.mfa_required_for:
                self.platform.tokens.verify_mfa(principal, otp)
        now = self.platform.clock.now()
        approval = {"by": principal.actor, "at": now.isoformat(), "step_index": d.step_index}
        d = self.repo.save(
            replace(
                d,
                state="running",
                approvals=[*d.approvals, approval],
                step_index=d.step_index + 1,
                step_started_at=None,
            ),
            now,
            ("approved", approval),
            of=d,
        )
        self._publish(DeploymentApproved, d, approval)
        return self.engine.advance(d, now)

    def pause(self, dep_id: int, principal: Principal) -> Deployment:
        return self._transition(dep_id, principal, ("running",), "paused", DeploymentPaused)

    def resume(self, dep_id: int, principal: Principal) -> Deployment:
        d = self._transition(dep_id, principal, ("paused", "needs_person"), "running", DeploymentResumed)
        return self.engine.advance(d, self.platform.clock.now())

    def promote(self, dep_id: int, principal: Principal) -> Deployment:
        """Skip the remaining analysis: full strength, all traffic to the new version, retire the old."""
        d = self.repo.get(dep_id)
        if d.state not in ("running", "paused", "needs_person", "awaiting_approval") or d.phase != "forward":
            raise Conflict(f"deployment {dep_id} is {d.state} ({d.phase}); only a forward rollout can be promoted")
        now = self.platform.clock.now()
        rest: list[dict[str, Any]] = [
            {"kind": "deploy", "version": d.version, "instances": d.replicas},
            {"kind": "traffic", "weights": {d.from_version: 0.0, d.version: 100.0}},
            {"kind": "retire", "version": d.from_version},
        ]
        d = self.repo.save(
            replace(
                d,
                plan=[*d.plan[: d.step_index], *rest],
                state="running",
                step_started_at=None,
                reason=f"promoted by {principal.actor}",
            ),
            now,
            ("promote", {"by": principal.actor}),
        )
        return self.engine.advance(d, now)

    def abort(self, dep_id: int, principal: Principal) -> Deployment:
        return self._back(dep_id, principal, "abort", f"aborted by {principal.actor}")

    def rollback(self, dep_id: int, principal: Principal) -> Deployment:
        reason = f"rollback requested by {principal.actor}"
        return self._back(dep_id, principal, "roll back", reason, allow_promoted=True)

    def _back(
        self, dep_id: int, principal: Principal, what: str, reason: str, allow_promoted: bool = False
    ) -> Deployment:
        d = self.repo.get(dep_id)
        self.engine.check_rollback(d, allow_promoted, what)  # "nothing to abort" (it said "nothing to aborted")
        now = self.platform.clock.now()
        # A person asking explicitly is the decision an unsafe change waits for: the flag does not block it.
        d = self.engine.start_rollback(replace(d, unsafe_rollback=False), now, reason)
        return self.engine.advance(d, now)

    def _transition(
        self, dep_id: int, principal: Principal, from_states: tuple[str, ...], to: str, cls: type[DeploymentPayload]
    ) -> Deployment:
        d = self.repo.get(dep_id)
        if d.state not in from_states:
            raise Conflict(f"deployment {dep_id} is {d.state}; expected one of {', '.join(from_states)}")
        now = self.platform.clock.now()
        d = self.repo.save(replace(d, state=to), now, (to, {"by": principal.actor}))
        self._publish(cls, d, {"by": principal.actor})
        return d

    def _publish(self, cls: type[DeploymentPayload], d: Deployment, data: Mapping[str, Any]) -> None:
        payload = cls.model_validate({"deployment": d.id, "version": d.version, "environment": d.environment,
                                      "state": d.state, **data})  # fmt: skip
        self.platform.bus.publish(payload, source="ai-orchestrator", subject=d.service)


def _same_token(actor_a: str, actor_b: str) -> bool:
    """Actors look like ``token:<id>:<name>``; the same token id is the same requester."""
    return actor_a.split(":")[:2] == actor_b.split(":")[:2]


def _decision_json(dec: decision_mod.Decision, requested: str | None, level: str) -> dict[str, Any]:
    """The decision as recorded: ``strategy`` is the one the rollout uses (the requested one when a strategy was
    requested), ``decided_strategy`` what the decision engine chose on its own."""
    out = {
        **dec.to_json(),
        "decided_strategy": dec.strategy,
        "requested_strategy": requested,
        "automation_level": level,
    }
    if requested is not None:
        out["strategy"] = requested
        out["source"] = "request"
        out["reason"] = f"{requested} was requested (the decision engine chose {dec.strategy}: {dec.reason})"
    return out

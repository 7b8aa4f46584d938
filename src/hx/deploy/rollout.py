"""The durable rollout state machine and the engine that drives it.

State is persisted before and after every step: a step is marked *started* (with its start time)
before it runs and *done* after.  Every step is idempotent (deploy sets a count, traffic sets
weights, analysis reads a window fixed by the recorded start time), so a server killed at any point
re-runs the interrupted step on restart and carries on.

States: ``awaiting_approval`` -> ``running`` <-> ``paused`` -> ``promoted``; a failed analysis, a
failed step or a timeout -> ``rolling_back`` -> ``rolled_back`` (or ``needs_person`` when the change
is marked unsafe to roll back, e.g. a database migration); ``aborted``; ``failed``.

An active rollout owns its service: it holds the service's ownership lease (``owner:<service>`` held by
``deployment:<id>``) from its first step to its end, renewed on every engine step, so the scaler and
remediation leave the service's replicas alone without reading this engine's tables; a crashed owner's lease
expires after ``ai_orchestrator.ownership_lease_s`` and a resumed rollout retakes it.  Rollback requests from
other engines arrive as events (:mod:`hx.deploy.requests`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from hx.actuate.base import ActionResult, Actuator
from hx.deploy.analysis import analyse, version_signal
from hx.deploy.decision import MODEL_NAME as STRATEGY_MODEL
from hx.deploy.judge import JudgeConfig
from hx.deploy.records import ACTIVE, Deployment, DeploymentRepo
from hx.deploy.requests import RollbackRequests
from hx.errors import BadInput, Conflict, HxError, TelemetryError, Unsupported
from hx.events import (
    DeploymentAborted,
    DeploymentAnalysis,
    DeploymentAwaitingApproval,
    DeploymentFailed,
    DeploymentPaused,
    DeploymentPayload,
    DeploymentPromoted,
    DeploymentRolledBack,
    DeploymentStep,
)
from hx.ml.registry import ModelWatch
from hx.platform import Platform
from hx.store.leases import ServiceOwnership

log = logging.getLogger(__name__)

MAX_INCONCLUSIVE = 2
#: Without per-version readiness signals, a deploy is taken as ready after this long.
ASSUME_READY_S = 120.0


def owner_name(d: Deployment) -> str:
    """The holder of a rollout's ownership lease."""
    return f"deployment:{d.id}"


class RolloutEngine:
    """Steps every active deployment; ``step(now)`` is called by the runtime."""

    name = "rollouts"

    def __init__(
        self,
        platform: Platform,
        actuator: Actuator,
        judge_config: JudgeConfig | None = None,
        interval_s: float = 15.0,
        signal_step_s: float = 15.0,
    ) -> None:
        self.platform = platform
        self.actuator = actuator
        self.repo = DeploymentRepo(platform.store)
        self.judge_config = judge_config
        self.interval_s = interval_s
        self.signal_step_s = signal_step_s
        self.timeout_s = platform.settings.ai_orchestrator.rollout_timeout_s
        self.history_s = platform.settings.ai_orchestrator.canary.history_hours * 3600.0
        self.model = ModelWatch(platform.models, platform.bus, STRATEGY_MODEL, platform.model_handles)
        self.ownership = ServiceOwnership(platform.store, platform.clock)
        self.lease_s = platform.settings.ai_orchestrator.ownership_lease_s
        self.requests = RollbackRequests(self)

    # ---- driving ---------------------------------------------------------------------------

    def step(self, now: datetime) -> None:
        self.model.refresh()
        self.requests.consume(now)
        for d in self.repo.list(states=ACTIVE, limit=1000):
            if d.state in ("running", "rolling_back"):
                self.advance(d, now)
            else:
                self.own(d)  # paused or waiting for a person: still the service's owner

    # ---- ownership ---------------------------------------------------------------------------

    def own(self, d: Deployment) -> None:
        """Take or renew the service's ownership lease for this rollout."""
        if not self.ownership.take(d.service, owner_name(d), self.lease_s):
            log.warning("deployment %s: %s is owned by %s", d.id, d.service, self.ownership.owner(d.service))

    def _disown(self, d: Deployment) -> None:
        self.ownership.release(d.service, owner_name(d))

    def advance(self, d: Deployment, now: datetime) -> Deployment:
        """Run steps of one deployment until it has to wait (analysis window, approval) or ends."""
        if d.state in ACTIVE:
            self.own(d)
        for _ in range(64):  # steps that complete at once (deploy, traffic) chain within one tick
            if d.state not in ("running", "rolling_back"):
                return d
            if d.state == "running" and (now - d.created_at).total_seconds() > self.timeout_s:
                return self.start_rollback(d, now, f"timed out after {self.timeout_s:.0f}s")
            step = d.current_step
            if step is None:
                return self._finish(d, now)
            if d.step_started_at is None:
                d = self.repo.save(replace(d, step_started_at=now), now, ("started", {"step": step}))
            outcome = self._execute(d, step, now)
            if outcome is None:
                return d  # waiting
            d = outcome
            if d.state not in ("running", "rolling_back") or d.step_started_at is not None:
                return d
        return d

    def _finish(self, d: Deployment, now: datetime) -> Deployment:
        final = "promoted" if d.phase == "forward" else "rolled_back"
        if d.phase == "rollback" and d.reason.startswith("aborted"):
            final = "aborted"
        d = self.repo.save(replace(d, state=final, finished_at=now), now, ("finished", {"state": final}))
        self._disown(d)
        classes: dict[str, type[DeploymentPayload]] = {
            "promoted": DeploymentPromoted,
            "rolled_back": DeploymentRolledBack,
            "aborted": DeploymentAborted,
        }
        self._publish(classes[final], d, {"reason": d.reason})
        return d

    def _done(self, d: Deployment, now: datetime, detail: dict[str, Any]) -> Deployment:
        return self.repo.save(
            replace(d, step_index=d.step_index + 1, step_started_at=None), now, ("done", detail), of=d
        )

    # ---- steps -----------------------------------------------------------------------------

    def _execute(self, d: Deployment, step: dict[str, Any], now: datetime) -> Deployment | None:
        kind = step["kind"]
        if kind in ("deploy", "traffic", "retire"):
            return self._act(d, step, now)
        started = d.step_started_at or now
        if kind == "wait":
            if now < started + timedelta(seconds=float(step["duration_s"])):
                return None
            return self._done(d, now, {"waited_s": step["duration_s"]})
        if kind == "analyze":
            if now < started + timedelta(seconds=float(step["duration_s"])):
                return None
            return self._analyse(d, step, started, now)
        if kind == "ready":
            return self._ready(d, step, started, now)
        if kind == "approval":
            d = self.repo.save(replace(d, state="awaiting_approval"), now, ("waiting", {"reason": step.get("reason")}))
            self._publish(DeploymentAwaitingApproval, d, {"reason": step.get("reason")})
            return d
        raise BadInput(f"unknown step kind {kind!r}", field="plan")

    def _ready(self, d: Deployment, step: dict[str, Any], started: datetime, now: datetime) -> Deployment | None:
        """Done when the version reports enough ready instances; a timeout fails the step."""
        want = int(step["instances"])
        ready = self._ready_count(d.service, str(step["version"]), now)
        if ready is None and now >= started + timedelta(seconds=ASSUME_READY_S):
            return self._done(d, now, {"ready": "assumed", "why": "the signal source has no per-version readiness"})
        if ready is not None and ready >= want:
            return self._done(d, now, {"ready": ready})
        if now >= started + timedelta(seconds=float(step.get("timeout_s", 900))):
            return self._step_failed(d, step, now, f"only {ready} of {want} instances ready in time")
        return None

    def _ready_count(self, service: str, version: str, now: datetime) -> int | None:
        source = self.platform.source
        if source is None:
            return None
        try:
            values = version_signal(
                source, service, version, "ready_replicas", now - timedelta(minutes=2), now, self.signal_step_s
            )
        except (Unsupported, TelemetryError):
            return None
        finite = values[np.isfinite(values)]
        return int(finite[-1]) if finite.size else 0

    def _act(self, d: Deployment, step: dict[str, Any], now: datetime) -> Deployment:
        kind = step["kind"]
        try:
            result = self._call(d, step)
        except HxError as err:  # the fleet refused (an ActuatorError, or e.g. NotFound for a version it lacks); the
            return self._step_failed(d, step, now, str(err))  # audited actuator has recorded the call either way
        self.platform.audit.append(
            "hx:rollouts",
            f"actuate.{result.verb}",
            f"{d.service}",
            "ok" if result.ok else "failed",
            {"deployment": d.id, "step": step, "detail": result.detail},
        )
        if not result.ok:
            return self._step_failed(d, step, now, result.detail or f"{kind} failed")
        self._publish(DeploymentStep, d, {"step": step, "phase": d.phase, "index": d.step_index})
        return self._done(d, now, {"step": step, "result": result.detail})

    def _call(self, d: Deployment, step: dict[str, Any]) -> ActionResult:
        kind = step["kind"]
        if kind == "deploy":
            return self.actuator.deploy(d.service, step["version"], int(step["instances"]))
        if kind == "retire":
            return self.actuator.deploy(d.service, step["version"], 0)
        weights = {str(k): float(v) for k, v in step["weights"].items()}
        return self.actuator.set_traffic_split(d.service, weights)

    def _step_failed(self, d: Deployment, step: dict[str, Any], now: datetime, why: str) -> Deployment:
        if d.phase == "rollback":
            d = self.repo.save(
                replace(d, state="failed", reason=f"rollback step failed: {why}", finished_at=now),
                now,
                ("failed", {"error": why}),
            )
            self._publish(DeploymentFailed, d, {"error": why, "needs": "a person: the rollback failed"})
            self._disown(d)
            return d
        return self.start_rollback(d, now, f"step {step['kind']} failed: {why}")

    def _analyse(self, d: Deployment, step: dict[str, Any], started: datetime, now: datetime) -> Deployment:
        if self.platform.source is None:
            return self.start_rollback(d, now, "no signal source to analyse the new version with")
        kwargs = {"config": self.judge_config} if self.judge_config is not None else {}
        looks = sum(1 for s in d.plan if s["kind"] == "analyze") * (1 + MAX_INCONCLUSIVE)
        earlier = [
            (datetime.fromisoformat(a["window"][0]), datetime.fromisoformat(a["window"][1]))
            for a in d.analyses
            if a.get("window") and a.get("phase", "forward") == "forward"
        ]
        try:
            verdict, record = analyse(
                self.platform.source,
                d.service,
                d.from_version,
                d.version,
                started,
                now,
                self.signal_step_s,
                pre_start=d.created_at,
                earlier=earlier,
                looks=looks,
                history_s=self.history_s,
                **kwargs,
            )
        except TelemetryError as err:
            verdict, record = None, {"status": "inconclusive", "error": str(err)}
        record["step_index"] = d.step_index
        analyses = [*d.analyses, record]
        self._publish(DeploymentAnalysis, d, record)
        status = record["status"]
        if status == "pass":
            return self._done(replace(d, analyses=analyses), now, {"analysis": status, "score": record.get("score")})
        if status == "fail":
            reasons = verdict.reasons if verdict is not None else []
            return self.start_rollback(replace(d, analyses=analyses), now, "canary failed: " + "; ".join(reasons))
        tries = sum(1 for a in analyses if a.get("step_index") == d.step_index and a["status"] != "pass")
        if status == "inconclusive" and tries < MAX_INCONCLUSIVE:  # extend: a fresh window from now
            return self.repo.save(replace(d, analyses=analyses, step_started_at=now), now, ("extended", record))
        d = self.repo.save(
            replace(d, analyses=analyses, state="needs_person", reason=f"analysis {status}: a person decides"),
            now,
            ("needs_person", record),
        )
        self._publish(DeploymentPaused, d, {"reason": d.reason})
        return d

    # ---- transitions used by the engine and the API ------------------------------------------

    def check_rollback(self, d: Deployment, allow_promoted: bool, what: str) -> None:
        """Conflict unless ``d`` can be rolled back now (active, or promoted when ``allow_promoted``)."""
        allowed = (*ACTIVE, "promoted") if allow_promoted else ACTIVE
        if d.state not in allowed or (d.phase == "rollback" and d.state == "rolling_back"):
            raise Conflict(f"deployment {d.id} is {d.state} ({d.phase}); nothing to {what}")

    def rollback_on_request(self, d: Deployment, actor: str, reason: str, now: datetime, request: int) -> Deployment:
        """Another engine asked (by event ``request``): roll back as the audited system principal ``actor``.
        As for a person's rollback, an unsafe-marked change is rolled back too."""
        self.check_rollback(d, True, "rollback")
        detail = {"deployment": d.id, "request": request, "reason": reason}
        self.platform.audit.append(actor, "deploy.rollback", d.service, "ok", detail)
        why = f"rollback requested by {actor}" + (f": {reason}" if reason else "")
        d = self.start_rollback(replace(d, unsafe_rollback=False), now, why)
        return self.advance(d, now)

    def start_rollback(self, d: Deployment, now: datetime, reason: str) -> Deployment:
        if d.unsafe_rollback:
            d = self.repo.save(
                replace(d, state="needs_person", reason=f"{reason}; rollback is unsafe (marked), a person decides"),
                now,
                ("needs_person", {"reason": reason}),
            )
            self._publish(DeploymentPaused, d, {"reason": d.reason})
            return d
        d = self.repo.save(
            replace(d, state="rolling_back", phase="rollback", step_index=0, step_started_at=None, reason=reason),
            now,
            ("rollback", {"reason": reason}),
        )
        self._publish(DeploymentRolledBack, d, {"reason": reason, "stage": "started"})
        return d

    def _publish(self, cls: type[DeploymentPayload], d: Deployment, data: Mapping[str, Any]) -> None:
        payload = cls.model_validate({"deployment": d.id, "version": d.version, "environment": d.environment,
                                      "state": d.state, **data})  # fmt: skip
        self.platform.bus.publish(payload, source="ai-orchestrator", subject=d.service)

    def health(self) -> dict[str, Any]:
        try:
            active = self.repo.list(states=("running", "rolling_back", "awaiting_approval", "paused", "needs_person"))
        except HxError as err:
            return {"status": "down", "detail": str(err)}
        return {"status": "ok", "active_rollouts": len(active)}

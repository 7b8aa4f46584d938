"""Runbook executions: durable, guarded, audited.

An execution is persisted before and after every step (``step_started_at`` marks a started step;
restart progress is kept per batch in the step itself), so an engine re-created from the store
after a crash resumes where it stopped; an interrupted batch is restarted again (at least once).
Every action goes to the audit log and the incident's timeline.  An actuator that fails or times
out is retried at most :data:`MAX_ATTEMPTS` times, then the step fails and the runbook's
``on_failure`` applies (escalate by default).  Dry-run records what would be done and acts on nothing.

States: ``awaiting_approval`` -> ``running`` -> ``succeeded`` | ``failed`` | ``escalated``;
``rejected`` (approval refused); ``dry_run`` (finished without acting).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select

from hx.actuate.base import ActionResult, Actuator
from hx.errors import ActuatorError, BadInput, Conflict, HxError, NotFound, TelemetryError, Unsupported
from hx.events import (
    DeploymentFailed,
    DeploymentPaused,
    DeploymentPayload,
    DeploymentRollbackRefused,
    DeploymentRollbackRequested,
    DeploymentRolledBack,
    Event,
    EventType,
    IncidentAction,
)
from hx.heal import guardrails
from hx.heal.records import EXEC_ACTIVE, Execution, ExecutionRepo, Incident, IncidentRepo
from hx.heal.runbooks import Runbook
from hx.http import RetryPolicy, WebhookSender, redact_url
from hx.platform import Platform
from hx.store.leases import ServiceOwnership
from hx.store.state import EngineStateStore
from hx.store.tables import events
from hx.telemetry.base import instances_of

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 2
ASSUME_READY_S = 180.0
#: a runbook webhook step's whole exchange, retries included, within the actuator timeout
WEBHOOK_BUDGET_S = 30.0
Finished = Callable[[Execution, datetime], None]


class StepFailed(Exception):
    """A step could not do its job (carries why); the runbook's on_failure decides what happens next."""


class RemediationEngine:
    """Starts runbook executions within the guardrails and drives them step by step."""

    name = "remediation"

    def __init__(self, platform: Platform, actuator: Actuator | None, finished: Finished | None = None,
                 interval_s: float = 15.0, signal_step_s: float = 60.0,
                 webhooks: WebhookSender | None = None) -> None:  # fmt: skip
        self.platform = platform
        self.webhooks = webhooks
        self.actuator = actuator
        self.finished = finished
        self.interval_s = interval_s
        self.signal_step_s = signal_step_s
        self.repo = ExecutionRepo(platform.store)
        self.incidents = IncidentRepo(platform.store)
        self.cfg = platform.settings.self_healing
        self.state = EngineStateStore(platform.store, "self-healing")

    # ---- starting -----------------------------------------------------------------------------

    def check(self, runbook: Runbook, target: str, now: datetime) -> guardrails.Verdict:
        existing = self.repo.list(target=target, limit=200)
        for verdict in (
            guardrails.one_at_a_time(existing, target),
            guardrails.circuit_breaker(
                existing, target, self.cfg.circuit_breaker_failures, self.breaker_reset_at(target)
            ),
            guardrails.rate_limit(existing, runbook.name, target, now, self.cfg.max_runs_per_hour),
        ):
            if not verdict.allowed:
                return verdict
        return guardrails.OK

    def start(self, incident: Incident, runbook: Runbook, target: str, now: datetime) -> Execution | None:
        """Start ``runbook`` on ``target`` for ``incident``, or record on the timeline why not (None)."""
        verdict = self.check(runbook, target, now)
        if not verdict.allowed:
            self.incidents.note(
                incident.id,
                now,
                "guardrail",
                {"guardrail": verdict.guardrail, "reason": verdict.reason, "runbook": runbook.name},
            )
            self.platform.audit.append(
                "hx:self-healing",
                "heal.refused",
                target,
                "refused",
                {"incident": incident.id, "guardrail": verdict.guardrail, "reason": verdict.reason},
            )
            return None
        steps = [s.model_dump(exclude_none=True) for s in runbook.steps]
        level = self.platform.settings.automation_level(incident.environment)
        if level != "full_auto" and steps[0]["kind"] != "approval":
            steps = [{"kind": "approval", "reason": f"{level.replace('_', ' ')} in {incident.environment}"}, *steps]
        ex = Execution(
            id=0, incident_id=incident.id, runbook=runbook.name, target=target, environment=incident.environment,
            state="running", step_index=0, step_started_at=None, step_attempts=0, steps=steps,
            on_failure=runbook.on_failure, results=[], dry_run=self.cfg.dry_run, reason="", created_at=now,
            updated_at=now,
        )  # fmt: skip
        ex = self.repo.insert(ex)
        self.incidents.note(incident.id, now, "remediation_started",
                            {"execution": ex.id, "runbook": runbook.name, "target": target, "dry_run": ex.dry_run,
                             "automation_level": level, "source": runbook.source})  # fmt: skip
        return self.advance(ex, now)

    # ---- driving ------------------------------------------------------------------------------

    def step(self, now: datetime) -> None:
        for ex in self.repo.list(states=("running",), limit=1000):
            self.advance(ex, now)

    def advance(self, ex: Execution, now: datetime) -> Execution:
        for _ in range(32):
            if ex.state != "running":
                return ex
            step = ex.current_step
            if step is None:
                return self._finish(ex, now, "succeeded", "every step done; the signal recovered")
            if ex.step_started_at is None:
                ex = self.repo.save(replace(ex, step_started_at=now, step_attempts=0), now)
            try:
                out = self._execute(ex, step, now)
            except StepFailed as err:
                return self._step_failed(ex, step, now, str(err))
            except (NotFound, BadInput) as err:  # a service or instance the world does not know: no retry mends it
                return self._step_failed(ex, step, now, f"{type(err).__name__}: {err}")
            if out is None:
                return self.repo.get(ex.id)  # waiting (a retry count may have been saved)
            ex = out
        return ex

    def _execute(self, ex: Execution, step: dict[str, Any], now: datetime) -> Execution | None:
        kind = step["kind"]
        started = ex.step_started_at or now
        if kind == "approval":
            ex = self.repo.save(replace(ex, state="awaiting_approval"), now)
            self.incidents.note(
                ex.incident_id, now, "awaiting_approval", {"execution": ex.id, "reason": step.get("reason")}
            )
            self._event(ex, {"step": step, "status": "awaiting_approval"})
            return ex
        if kind == "wait":
            return self._done(ex, now, {"waited_s": step["duration_s"]}) if now >= started + timedelta(
                seconds=float(step["duration_s"])) else None  # fmt: skip
        if kind == "verify":
            return self._verify(ex, step, started, now)
        if kind == "restart":
            return self._restart(ex, step, now)
        return self._act(ex, step, now)

    def _done(self, ex: Execution, now: datetime, detail: dict[str, Any]) -> Execution:
        step = ex.current_step or {}
        results = [*ex.results, {"index": ex.step_index, "kind": step.get("kind"), "ok": True, "at": now.isoformat(),
                                 **detail}]  # fmt: skip
        return self.repo.save(replace(ex, results=results, step_index=ex.step_index + 1, step_started_at=None,
                                      step_attempts=0), now)  # fmt: skip

    # ---- acting -------------------------------------------------------------------------------

    def _call(self, ex: Execution, fn: Callable[[], ActionResult], what: str, step: dict[str, Any],
              now: datetime) -> ActionResult | None:  # fmt: skip
        """One audited actuator call: None = failed but may be retried next tick; StepFailed when out of attempts."""
        if ex.dry_run:
            self._record_action(ex, what, step, now, ok=True, detail="dry run: not executed", dry=True)
            return ActionResult(what, ex.target, True, "dry run", changed=False)
        try:
            result = fn()
        except HxError as err:  # actuator failures, timeouts, refusals: recorded, retried at most MAX_ATTEMPTS
            self._record_action(ex, what, step, now, ok=False, detail=f"{type(err).__name__}: {err}")
            if ex.step_attempts + 1 >= MAX_ATTEMPTS:
                raise StepFailed(f"{what} failed {MAX_ATTEMPTS} times: {err}") from err
            self.repo.save(replace(ex, step_attempts=ex.step_attempts + 1), now)
            return None
        self._record_action(ex, what, step, now, ok=result.ok, detail=result.detail)
        if not result.ok:
            raise StepFailed(f"{what}: {result.detail or 'the actuator reported a failure'}")
        return result

    def _record_action(self, ex: Execution, what: str, step: dict[str, Any], now: datetime, *, ok: bool, detail: str,
                       dry: bool = False) -> None:  # fmt: skip
        outcome = "dry_run" if dry else ("ok" if ok else "failed")
        info = {"execution": ex.id, "incident": ex.incident_id, "runbook": ex.runbook, "action": what,
                "step": step.get("kind"), "detail": detail}  # fmt: skip
        self.platform.audit.append("hx:self-healing", f"heal.{what}", ex.target, outcome, info)
        self.incidents.note(ex.incident_id, now, "action", {**info, "ok": ok, "dry_run": dry})
        self._event(ex, {**info, "ok": ok, "dry_run": dry})

    def _act(self, ex: Execution, step: dict[str, Any], now: datetime) -> Execution | None:
        act = self._require_actuator()
        kind, svc = step["kind"], ex.target
        timeout = float(self.platform.settings.actuator.timeout_s)
        if kind == "scale":
            current = self._replicas(svc, now)
            want = min(self._scale_want(svc, current, step, now), int(step.get("max_replicas", 100)))
            if want < current:
                verdict = guardrails.blast_radius(current - want, current, self.cfg.blast_radius)
                if not verdict.allowed:
                    raise StepFailed(verdict.reason)
            res = self._call(ex, lambda: act.scale(svc, want, timeout=timeout), "scale", step, now)
        elif kind == "rollback":
            return self._rollback(ex, step, now)
        elif kind == "drain_node":
            node = str(step.get("params", {}).get("node") or self._incident_label(ex, "node"))
            res = self._call(
                ex, lambda: act.run("drain_node", {"node": node}, timeout=timeout), "drain_node", step, now
            )
        elif kind == "clear_disk":
            res = self._call(
                ex, lambda: act.run("clear_disk", {"service": svc}, timeout=timeout), "clear_disk", step, now
            )
        elif kind == "run":
            params = {"service": svc, **dict(step.get("params", {}))}
            res = self._call(ex, lambda: act.run(str(step["action"]), params, timeout=timeout), "run", step, now)
        else:  # webhook
            res = self._call(ex, lambda: self._webhook(ex, step, timeout), "webhook", step, now)
        if res is None:
            return None
        return self._done(ex, now, {"detail": res.detail, "dry_run": ex.dry_run})

    def _restart(self, ex: Execution, step: dict[str, Any], now: datetime) -> Execution | None:
        """Rolling restart: batches within the blast radius; the next batch once the service is ready again."""
        act = self._require_actuator()
        progress = dict(step.get("_progress") or {})
        if "pending" not in progress:
            instances = self._restart_targets(ex, step)
            if not instances:
                raise StepFailed(f"{ex.target} has no live instance to restart")
            size = guardrails.batch_size(len(instances), self.cfg.blast_radius)
            progress = {"pending": instances, "done": [], "batch": size, "batch_at": None}
        if progress["batch_at"] is not None and not ex.dry_run:
            since = datetime.fromisoformat(progress["batch_at"])
            if not self._ready_again(ex.target, since, now):
                return None
        if not progress["pending"]:
            return self._done(ex, now, {"restarted": progress["done"], "batch": progress["batch"]})
        batch, rest = progress["pending"][: progress["batch"]], progress["pending"][progress["batch"] :]
        timeout = float(self.platform.settings.actuator.timeout_s)
        for inst in batch:
            if self._call(ex, lambda i=inst: act.restart(i, timeout=timeout), "restart", {**step, "instance": inst},  # type: ignore[misc]
                          now) is None:  # fmt: skip
                return None
        progress = {**progress, "pending": rest, "done": [*progress["done"], *batch], "batch_at": now.isoformat()}
        steps = [*ex.steps]
        steps[ex.step_index] = {**step, "_progress": progress}
        return (
            self.repo.save(replace(ex, steps=steps, step_attempts=0), now)
            if rest or not ex.dry_run
            else self._done(replace(ex, steps=steps), now, {"restarted": progress["done"], "dry_run": True})
        )

    def _restart_targets(self, ex: Execution, step: dict[str, Any]) -> list[str]:
        """Every instance of the service; with ``params.instance_label`` only the one the incident's label names
        (a crashed instance keeps the service below ready, so a rolling restart would wait on it first)."""
        instances = self._instances(ex.target)
        label = (step.get("params") or {}).get("instance_label")
        named = self.incidents.get(ex.incident_id).labels.get(str(label)) if label else None
        return [named] if named and named in instances else instances

    def _ready_again(self, svc: str, since: datetime, now: datetime) -> bool:
        if (now - since).total_seconds() >= ASSUME_READY_S * 3:
            return True
        ready = self._latest(svc, "ready_replicas", now)
        total = self._latest(svc, "replicas", now)
        if ready is None or total is None:
            return (now - since).total_seconds() >= ASSUME_READY_S
        return (now - since).total_seconds() >= self.signal_step_s and ready >= total

    def _rollback(self, ex: Execution, step: dict[str, Any], now: datetime) -> Execution | None:
        """A service a rollout owns, or whose last rollout was promoted, is rolled back by the deployment engine,
        asked by a ``deployment.rollback_requested`` event (the step then waits for its outcome); any other
        service through the actuator's ``rollback`` action."""
        progress = dict(step.get("_progress") or {})
        if "request" in progress:
            return self._rollback_outcome(ex, step, progress, now)
        dep_id = rollout_to_roll_back(self.platform, ex.target)
        if dep_id is None:
            act, timeout = self._require_actuator(), float(self.platform.settings.actuator.timeout_s)
            res = self._call(ex, lambda: act.run("rollback", {"service": ex.target}, timeout=timeout), "rollback",
                             step, now)  # fmt: skip
            return None if res is None else self._done(ex, now, {"detail": res.detail, "dry_run": ex.dry_run})
        sent: dict[str, int] = {}
        res = self._call(ex, lambda: self._request_rollback(ex, dep_id, now, sent), "rollback", step, now)
        if res is None:
            return None
        if ex.dry_run or "request" not in sent:
            return self._done(ex, now, {"detail": res.detail, "dry_run": ex.dry_run})
        steps = [*ex.steps]
        steps[ex.step_index] = {**step, "_progress": {"request": sent["request"], "deployment": dep_id}}
        return self.repo.save(replace(ex, steps=steps, step_attempts=0), now)

    def _request_rollback(self, ex: Execution, dep_id: int, now: datetime, sent: dict[str, int]) -> ActionResult:
        reason = f"incident {ex.incident_id}: runbook {ex.runbook}"
        req = DeploymentRollbackRequested(service=ex.target, deployment=dep_id, incident=ex.incident_id,
                                          execution=ex.id, reason=reason)  # fmt: skip
        event = self.platform.bus.publish(req, source="self-healing", subject=ex.target)
        sent["request"] = event.id
        self.incidents.note(ex.incident_id, now, "rollback_requested", {**req.model_dump(mode="json"),
                                                                         "request": event.id})  # fmt: skip
        detail = f"rollback of deployment {dep_id} requested (event {event.id})"
        return ActionResult("rollback", ex.target, True, detail)

    def _rollback_outcome(self, ex: Execution, step: dict[str, Any], progress: dict[str, Any],
                          now: datetime) -> Execution | None:  # fmt: skip
        """Done when the deployment engine reports the rollout rolled back; failed when it refuses, fails or hands
        the change to a person; failed too when no answer comes within the step's timeout."""
        request, dep_id = int(progress["request"]), int(progress["deployment"])
        for e in self.platform.bus.read(after=request, types=ROLLBACK_OUTCOMES, subject=ex.target, limit=1000):
            outcome = _rollback_outcome(e, request, dep_id)
            if outcome is None:
                continue
            detail = {"execution": ex.id, "deployment": dep_id, "request": request, "event": e.id, "outcome": e.type,
                      "reason": e.data.get("reason") or e.data.get("error")}  # fmt: skip
            self.incidents.note(ex.incident_id, now, "rollback_outcome", detail)
            if not outcome:
                raise StepFailed(f"deployment {dep_id} was not rolled back ({e.type}): {detail['reason']}")
            return self._done(ex, now, {"detail": f"deployment {dep_id} rolled back", "event": e.id})
        started = ex.step_started_at or now
        if (now - started).total_seconds() >= float(step.get("timeout_s") or self.cfg.verify_timeout_s):
            raise StepFailed(f"no rollback outcome for deployment {dep_id} from the deployment engine in time")
        return None

    def _webhook(self, ex: Execution, step: dict[str, Any], timeout: float) -> ActionResult:
        """POST the step's body through the one webhook sender: retried, one idempotency key per step."""
        body = {"execution": ex.id, "incident": ex.incident_id, "target": ex.target, "runbook": ex.runbook,
                **dict(step.get("params", {}))}  # fmt: skip
        url = str(step["url"])
        key = f"hx-execution-{ex.id}-step-{ex.step_index}"
        outcome = self._sender().send(url, body, idempotency_key=key, budget_s=min(timeout, WEBHOOK_BUDGET_S))
        if outcome.last.response is None:
            raise ActuatorError(f"webhook failed: {outcome.error}", url=redact_url(url))
        detail = f"HTTP {outcome.last.status}" + (f" after {outcome.attempts} attempts" if outcome.attempts > 1 else "")
        return ActionResult("webhook", ex.target, outcome.last.ok, detail, output={"url": redact_url(url)})

    def _sender(self) -> WebhookSender:
        if self.webhooks is None:
            self.webhooks = WebhookSender(RetryPolicy(max_attempts=3, timeout_s=WEBHOOK_BUDGET_S))
        return self.webhooks

    # ---- verification -------------------------------------------------------------------------

    def _verify(self, ex: Execution, step: dict[str, Any], started: datetime, now: datetime) -> Execution | None:
        if ex.dry_run:
            return self._done(ex, now, {"verify": "skipped (dry run)"})
        timeout = float(step.get("timeout_s") or self.cfg.verify_timeout_s)
        hold = float(step.get("for_s", 120.0))
        values = self._verify_values(ex, str(step["signal"]), now - timedelta(seconds=hold), now)
        finite = values[np.isfinite(values)]
        limit_ok = (finite < step["below"]) if "below" in step else (finite > step["above"])
        enough = (now - started).total_seconds() >= hold and finite.size >= 2
        if enough and bool(np.all(limit_ok)):
            return self._done(ex, now, {"verify": step["signal"], "value": float(finite[-1])})
        if now >= started + timedelta(seconds=timeout):
            last = float(finite[-1]) if finite.size else None
            raise StepFailed(f"{step['signal']} did not recover within {timeout:.0f}s (last value {last})")
        return None

    def _verify_values(self, ex: Execution, signal: str, start: datetime, end: datetime) -> np.ndarray:
        if signal == "ready_ratio":
            ready = self._series(ex.target, "ready_replicas", start, end)
            total = self._series(ex.target, "replicas", start, end)
            n = min(ready.size, total.size)
            return np.where(total[:n] > 0, ready[:n] / np.maximum(total[:n], 1e-9), np.nan)
        if signal == "slo":
            inc = self.incidents.get(ex.incident_id)
            base = float(inc.features.get("latency_p99_pre") or 0.0) or float("nan")
            err = self._series(ex.target, "error_rate", start, end) / 0.05
            lat = self._series(ex.target, "latency_p99", start, end) / (1.5 * base) if np.isfinite(base) else err * 0
            n = min(err.size, lat.size)
            return np.fmax(err[:n], lat[:n])
        return self._series(ex.target, signal, start, end)

    # ---- helpers ------------------------------------------------------------------------------

    def _series(self, svc: str, signal: str, start: datetime, end: datetime) -> np.ndarray:
        if self.platform.source is None:
            return np.array([np.nan])
        try:
            return self.platform.source.signal(svc, signal, start, end, self.signal_step_s).values
        except (TelemetryError, Unsupported, NotFound):
            return np.array([np.nan])

    def _latest(self, svc: str, signal: str, now: datetime) -> float | None:
        v = self._series(svc, signal, now - timedelta(seconds=3 * self.signal_step_s), now)
        f = v[np.isfinite(v)]
        return float(f[-1]) if f.size else None

    def _scale_want(self, svc: str, current: int, step: Mapping[str, Any], now: datetime) -> int:
        if step.get("replicas") is not None:
            return int(step["replicas"])
        if step.get("factor") is not None:
            return int(np.ceil(current * float(step["factor"])))
        sat = self._latest(svc, "saturation", now)
        if sat is None:
            raise StepFailed(f"cannot read the saturation of {svc}")
        return max(current + 1, int(np.ceil(current * sat / float(step["target_saturation"]))))

    def _replicas(self, svc: str, now: datetime) -> int:
        n = self._latest(svc, "replicas", now)
        if n is None:
            raise StepFailed(f"cannot read the replica count of {svc}")
        return round(n)

    def _instances(self, svc: str) -> list[str]:
        source = self.platform.source
        if source is None:
            raise StepFailed("no signal source configured to list instances; use a run step (e.g. a restart playbook)")
        try:
            lister = instances_of(source)
        except Unsupported as err:
            raise StepFailed(f"{err}; use a run step (e.g. a restart playbook)") from err
        return [str(i) for i in lister.instances(svc)]

    def _incident_label(self, ex: Execution, key: str) -> str:
        value = self.incidents.get(ex.incident_id).labels.get(key)
        if not value:
            raise StepFailed(f"the incident has no {key!r} label to act on")
        return str(value)

    def _require_actuator(self) -> Actuator:
        if self.actuator is None:
            raise StepFailed("no actuator configured (actuator.kind)")
        return self.actuator

    # ---- endings and people -------------------------------------------------------------------

    def _step_failed(self, ex: Execution, step: dict[str, Any], now: datetime, why: str) -> Execution:
        results = [*ex.results, {"index": ex.step_index, "kind": step.get("kind"), "ok": False, "at": now.isoformat(),
                                 "error": why}]  # fmt: skip
        ex = replace(ex, results=results)
        policy = step.get("on_failure") or ex.on_failure
        if policy == "continue":
            return self.repo.save(replace(ex, step_index=ex.step_index + 1, step_started_at=None), now)
        state = "failed" if policy == "abort" else "escalated"
        return self._finish(ex, now, state, f"step {ex.step_index + 1} ({step.get('kind')}) failed: {why}")

    def _finish(self, ex: Execution, now: datetime, state: str, reason: str) -> Execution:
        if state == "succeeded" and ex.dry_run:
            state, reason = "dry_run", "dry run: nothing was changed"
        ex = self.repo.save(replace(ex, state=state, reason=reason, finished_at=now), now)
        self.incidents.note(
            ex.incident_id,
            now,
            "remediation_finished",
            {"execution": ex.id, "runbook": ex.runbook, "state": state, "reason": reason},
        )
        if self.finished is not None:
            self.finished(ex, now)
        return ex

    def approve(self, ex_id: int, actor: str) -> Execution:
        ex = self.repo.get(ex_id)
        if ex.state != "awaiting_approval":
            raise Conflict(f"execution {ex_id} is {ex.state}, not awaiting approval")
        now = self.platform.clock.now()
        self.platform.audit.append(actor, "heal.approve", ex.target, "ok", {"execution": ex.id})
        self.incidents.note(ex.incident_id, now, "approved", {"execution": ex.id, "by": actor})
        ex = self._done(replace(ex, state="running"), now, {"approved_by": actor})
        return self.advance(ex, now)

    def reject(self, ex_id: int, actor: str, reason: str = "") -> Execution:
        ex = self.repo.get(ex_id)
        if ex.state not in EXEC_ACTIVE:
            raise Conflict(f"execution {ex_id} is {ex.state}; nothing to reject")
        now = self.platform.clock.now()
        self.platform.audit.append(actor, "heal.reject", ex.target, "ok", {"execution": ex.id, "reason": reason})
        return self._finish(ex, now, "rejected", f"rejected by {actor}" + (f": {reason}" if reason else ""))

    # ---- circuit breaker resets -----------------------------------------------------------------

    def breaker_reset_at(self, target: str) -> datetime | None:
        reset = self.state.get(f"breaker_reset:{target}")
        return datetime.fromisoformat(reset["at"]) if reset is not None else None

    def reset_breaker(self, target: str, actor: str) -> str:
        """Close ``target``'s circuit breaker (audited); return what it was (``open`` or ``closed``).

        A service no remediation ever ran on has no breaker: :class:`~hx.errors.NotFound` (a typo would otherwise
        be answered "closed" and the real service left stopped)."""
        existing = self.repo.list(target=target, limit=200)
        if not existing:
            raise NotFound(f"no remediation has run on {target!r}, so it has no breaker to reset", field="service")
        now = self.platform.clock.now()
        verdict = guardrails.circuit_breaker(
            existing, target, self.cfg.circuit_breaker_failures, self.breaker_reset_at(target)
        )
        was = "closed" if verdict.allowed else "open"
        self.state.put(f"breaker_reset:{target}", {"at": now.isoformat(), "by": actor}, now)
        self.platform.audit.append(actor, "heal.breaker_reset", target, "ok", {"was": was})
        return was

    def _event(self, ex: Execution, data: Mapping[str, Any]) -> None:
        payload = IncidentAction.model_validate({"incident": ex.incident_id, "execution": ex.id, "runbook": ex.runbook,
                                                 **data})  # fmt: skip
        self.platform.bus.publish(payload, source="self-healing", subject=ex.target)


ROLLBACK_OUTCOMES = (DeploymentRolledBack, DeploymentFailed, DeploymentPaused, DeploymentRollbackRefused)


def _rollback_outcome(e: Event, request: int, dep_id: int) -> bool | None:
    """True: rolled back; False: refused, failed or left to a person; None: not (yet) an outcome of this request."""
    p = e.payload
    if isinstance(p, DeploymentRollbackRefused):
        return False if p.request == request else None
    if not isinstance(p, DeploymentPayload) or p.deployment != dep_id:
        return None
    if isinstance(p, DeploymentRolledBack):
        return True if p.state == "rolled_back" else None
    if isinstance(p, DeploymentPaused):
        return False if p.state == "needs_person" else None
    return False  # deployment.failed


def rollout_to_roll_back(platform: Platform, service: str) -> int | None:
    """The deployment the deployment engine should roll back: the rollout owning the service (its ownership
    lease), else the service's last rollout when its latest event says it was promoted; None when hx did not
    deploy the service (the actuator's own rollback applies)."""
    owner = ServiceOwnership(platform.store, platform.clock).owner(service)
    if owner is not None and owner.startswith("deployment:"):
        return int(owner.split(":", 1)[1])
    skip = (EventType.DEPLOYMENT_ROLLBACK_REQUESTED, EventType.DEPLOYMENT_ROLLBACK_REFUSED)
    q = (
        select(events.c.data)
        .where(events.c.subject == service, events.c.type.startswith("deployment."), events.c.type.not_in(skip))
        .order_by(events.c.id.desc())
        .limit(1)
    )
    with platform.store.begin() as conn:
        row = conn.execute(q).first()
    if row is None or row.data.get("state") != "promoted" or row.data.get("deployment") is None:
        return None
    return int(row.data["deployment"])

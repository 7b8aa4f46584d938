"""The self-healing engine: intake processing, triage, remediation, closing and escalation, one tick at a time.

Each ``step(now)``: (1) catch up on ``anomaly.*`` events by the persisted cursor (the bus subscription
only wakes it sooner), (2) apply stored, unprocessed alerts to incidents, (3) triage new incidents
once they settled for ``triage_delay_s`` (focus on the alerting service whose callees do not alert,
features, class, root causes) and start the matching runbook within the guardrails -- or escalate
when the class is unknown, no runbook fits, or the symptoms are likely those of an alerting callee;
an incident whose alerts all resolved before triage is closed untouched (resolved alerts never
trigger actions), (4) drive running executions, (5) resolve incidents whose fix was verified or
whose alerts all resolved, (6) fire due escalation levels.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from hx.engine import step_time_left
from hx.errors import BadInput, NotFound
from hx.events import AnomalyDetected, AnomalyResolved, Event, IncidentClassified, IncidentUpdated
from hx.heal import triage
from hx.heal.classify import CLASSES, MODEL_NAME
from hx.heal.features import PRE_S, recent_changes
from hx.heal.incidents import IncidentManager
from hx.heal.intake import AlertIntake, Problem, anomaly_row
from hx.heal.notifications import Escalator
from hx.heal.records import (
    EXEC_ACTIVE,
    OPEN_STATES,
    AlertRepo,
    AlertRow,
    Execution,
    ExecutionRepo,
    Incident,
    IncidentRepo,
)
from hx.heal.remediation import RemediationEngine
from hx.heal.runbooks import Runbook, load_runbooks, select_runbook
from hx.ml.registry import MODEL_STAGE_EVENTS, ModelHandle, ModelWatch
from hx.platform import Platform
from hx.quiet import active_rule
from hx.store.state import EngineStateStore
from hx.store.tables import FIXED_BY_RUNBOOK

log = logging.getLogger(__name__)
CURSOR_KEY = "anomaly_cursor"
#: alerts per batch, and batches per step at most (fewer when the step's time bound is reached)
BATCH, MAX_BATCHES = 500, 20


class HealEngine:
    """Steps the whole self-healing loop; see the module docstring."""

    name = "self-healing"

    def __init__(self, platform: Platform, escalator: Escalator, runbooks: list[Runbook] | None = None,
                 interval_s: float = 15.0, signal_step_s: float = 60.0,
                 triage_delay_s: float = triage.TRIAGE_DELAY_S) -> None:  # fmt: skip
        self.platform = platform
        self.triage_delay_s = triage_delay_s
        self.interval_s = interval_s
        self.signal_step_s = signal_step_s
        self.runbooks = runbooks if runbooks is not None else load_runbooks(platform.settings.self_healing.runbook_dirs)
        self.escalator = escalator
        self.incidents = IncidentRepo(platform.store)
        self.executions = ExecutionRepo(platform.store)
        self.intake = AlertIntake(AlertRepo(platform.store), platform.settings.environment, self._alert_refused)
        self.manager = IncidentManager(platform)
        self.state = EngineStateStore(platform.store, self.name)
        self.remediation = RemediationEngine(platform, platform.actuator, self._execution_finished,
                                             signal_step_s=signal_step_s)  # fmt: skip
        self.model = ModelWatch(platform.models, platform.bus, MODEL_NAME, platform.model_handles)
        platform.bus.subscribe(self._on_model_change, types=MODEL_STAGE_EVENTS, name="self-healing.models")

    def _alert_refused(self, source: str, problem: Problem) -> None:
        """Count a malformed alert the intake left out (by source and faulty field, not its index)."""
        self.platform.metrics.alerts_refused.labels(source, problem.field.rsplit(".", 1)[-1]).inc()

    @property
    def handle(self) -> ModelHandle:
        """The classifier in use (the promoted model, or the rules)."""
        return self.model.handle

    def _on_model_change(self, event: Event) -> None:
        self.model.refresh()  # in-process: at once; other processes' changes are read by cursor in step()

    def label(self, incident_id: int, incident_class: str, actor: str) -> Incident:
        """A person says what the incident really was: the label the classifier learns from."""
        if incident_class not in CLASSES:
            raise BadInput(f"unknown incident class {incident_class!r}; valid: {', '.join(CLASSES)}", field="class")
        inc = self.incidents.get(incident_id)
        now = self.platform.clock.now()
        self.incidents.note(inc.id, now, "labelled", {"class": incident_class, "by": actor,
                                                      "predicted": inc.incident_class})  # fmt: skip
        self.platform.bus.publish(IncidentUpdated(incident=inc.id, labelled=incident_class, by=actor),
                                  source="self-healing", subject=inc.service)  # fmt: skip
        return inc

    def reload_model(self) -> None:
        self.model.reload()

    # ---- the loop -------------------------------------------------------------------------------

    def step(self, now: datetime) -> None:
        if not self.platform.settings.self_healing.enabled:
            return
        self.model.refresh()
        self.catch_up_anomalies()
        self._apply_alerts(now)
        for inc in self.incidents.pending_triage():
            if step_time_left() <= 0:
                break  # the rest next step: the step stays within its bound
            self._maybe_triage(inc, now)
        self.remediation.step(now)
        self.escalator.step()

    def _apply_alerts(self, now: datetime) -> None:
        """Apply stored alerts in batches while the step has time (a storm drains in a few steps)."""
        for _ in range(MAX_BATCHES):
            for iid in self.manager.process_pending(now, BATCH):
                self._after_alerts(iid, now)
            if not self.manager.alerts.unprocessed(1) or step_time_left() <= 0:
                return

    def _maybe_triage(self, inc: Incident, now: datetime) -> None:
        """Triage once the incident has settled for ``triage_delay_s`` (more alerts and samples arrive, as with
        Alertmanager's group_wait); an incident whose alerts all resolved before that is closed untouched."""
        if inc.kind == "predicted":
            self.triage(inc, now)
        elif not inc.firing:
            self._resolve(inc, "hx", "every alert resolved before triage (no action taken)", now)
        elif (now - inc.opened_at).total_seconds() >= self.triage_delay_s:
            self.triage(inc, now)

    def catch_up_anomalies(self) -> int:
        cursor = int((self.state.get(CURSOR_KEY) or {}).get("after", 0))
        total = 0
        while True:
            events = self.platform.bus.read(after=cursor, types=[AnomalyDetected, AnomalyResolved], limit=500)
            if not events:
                break
            rows = [anomaly_row(e, self.platform.settings.environment) for e in events]
            total += self.intake.accept(rows)["accepted"]
            cursor = events[-1].id
            self.state.put(CURSOR_KEY, {"after": cursor}, self.platform.clock.now())
        return total

    # ---- triage ----------------------------------------------------------------------------------

    def triage(self, inc: Incident, now: datetime) -> Incident:
        alerts = AlertRepo(self.platform.store).for_incident(inc.id)
        first = triage.first_firing(alerts)
        alerting = sorted(first) or [inc.service]
        graph = self.platform.topology.edges()
        scope = sorted(set(alerting) | {d for s in alerting for d in graph.get(s, ())})
        onset = inc.opened_at - triage_lead()
        causes = triage.rca_candidates(self.platform.source, scope, graph, onset, now, inc.service, self.signal_step_s)
        focus = triage.focus_service(inc.service, first, graph, causes) if inc.kind != "predicted" else inc.service
        names = sorted({a.name for a in alerts if a.service == focus or a.name == "NodeDown"}) or [inc.title]
        feats = self._features(inc, focus, names, now)
        if inc.kind == "predicted":
            cls_name, conf, by, reason = inc.incident_class, 1.0, "trend", "predicted by a robust linear trend"
        else:
            c = triage.decide_class(feats, self.handle, self.platform.settings.self_healing.classifier_confidence)
            cls_name, conf, by, reason = c.incident_class, c.confidence, c.by, c.reason
            if cls_name != "traffic_surge":  # the focus may be a victim of a surge entering upstream
                entry, theirs = self._surge_target(inc, focus, feats, first, graph, alerts, now)
                e = triage.decide_class(theirs, self.handle, self.platform.settings.self_healing.classifier_confidence)
                if entry != focus and e.incident_class == "traffic_surge":
                    focus, feats = entry, theirs
                    cls_name, conf, by = e.incident_class, e.confidence, e.by
                    reason = f"{e.reason} at {entry}, upstream of the alerting {sorted(first)}"
        if cls_name == "traffic_surge":  # a surge flows down the call graph: act where it enters
            focus, feats = self._surge_target(inc, focus, feats, first, graph, alerts, now)
        if focus != inc.service:
            self.incidents.note(inc.id, now, "refocused", {"from": inc.service, "to": focus, "alerting": alerting,
                                                           "class": cls_name})  # fmt: skip
        inc = self.incidents.save(replace(inc, service=focus, incident_class=cls_name, confidence=round(conf, 4),
                                          classified_by=by, root_causes=causes, features=feats), now)  # fmt: skip
        self.incidents.note(inc.id, now, "classified", {"class": cls_name, "confidence": conf, "by": by,
                                                        "reason": reason, "root_causes": causes})  # fmt: skip
        self.platform.bus.publish(IncidentClassified(incident=inc.id, incident_class=cls_name, confidence=conf, by=by,
                                                     root_causes=causes),
                                  source="self-healing", subject=inc.service)  # fmt: skip
        return self._plan(inc, focus, now)

    def _surge_target(self, inc: Incident, focus: str, feats: dict[str, float], first: Mapping[str, datetime],
                      graph: Mapping[str, Sequence[str]], alerts: Sequence[AlertRow],
                      now: datetime) -> tuple[str, dict[str, float]]:  # fmt: skip
        """The alerting service upstream of ``focus`` where the surge enters, if its own requests rose (else focus)."""
        entry = triage.surge_entry(focus, first, graph)
        if entry == focus:
            return focus, feats
        names = sorted({a.name for a in alerts if a.service == entry}) or [inc.title]
        theirs = self._features(inc, entry, names, now)
        if theirs.get("request_rate_rel", 0.0) >= triage.SURGE_MIN_REL:
            return entry, theirs
        return focus, feats

    def _features(self, inc: Incident, service: str, names: Sequence[str], now: datetime) -> dict[str, float]:
        """The incident's features on ``service``, the restarts hx itself made there in their window discounted."""
        changes = recent_changes(self.platform.bus, service, now)
        feats = triage.incident_features(self.platform.source, service, inc.opened_at, now, names, changes,
                                         self.signal_step_s)  # fmt: skip
        since = inc.opened_at - timedelta(seconds=triage.ONSET_LEAD_S + PRE_S)
        return triage.discount_own_restarts(feats, self._own_restarts(service, since, now))

    def _own_restarts(self, service: str, since: datetime, now: datetime) -> int:
        """Replicas of ``service`` hx's runbooks restarted between ``since`` and ``now`` (dry runs excepted)."""
        n = 0
        for ex in self.executions.list(target=service, since=since - timedelta(hours=1), limit=50):
            for r in ex.results if not ex.dry_run else ():
                if r.get("kind") == "restart" and r.get("ok") and since <= datetime.fromisoformat(r["at"]) <= now:
                    n += len(r.get("restarted") or ())
        return n

    def _plan(self, inc: Incident, target: str, now: datetime) -> Incident:
        if inc.incident_class == "unknown":
            self.escalator.escalate(inc, "the incident could not be classified")
            return inc
        if inc.incident_class in triage.CALLEE_SENSITIVE:
            callees = triage.downstream(self.platform.topology.edges(), target)
            upstream_of = sorted(self._firing_elsewhere(inc.id, set(callees)))
            if upstream_of:
                self.escalator.escalate(inc, f"{inc.incident_class} on {target} while its callee(s) {upstream_of} "
                                             "alert too: likely a symptom of theirs, no automatic action")  # fmt: skip
                return inc
        rb, why_not = select_runbook(self.runbooks, inc.incident_class, inc.labels, inc.environment, inc.features)
        if rb is None:
            self.escalator.escalate(inc, "; ".join(why_not))
            return inc
        if self._in_maintenance(inc, target, rb.name, now):
            return inc
        self.escalator.notify(inc, summary=f"{inc.incident_class} on {target}: running runbook {rb.name}")
        ex = self.remediation.start(inc, rb, target, now)
        if ex is None:
            self.escalator.escalate(self.incidents.get(inc.id), "automation refused by a guardrail (see timeline)")
        return inc

    def _in_maintenance(self, inc: Incident, target: str, runbook: str, now: datetime) -> bool:
        """A maintenance window over the target holds remediation: the incident says so, the audit log too."""
        rule = active_rule(self.platform.store, "maintenance", now, target, inc.environment, [inc.title])
        if rule is None:
            return False
        detail = {"window": rule.id, "runbook": runbook, "reason": rule.reason, "by": rule.created_by,
                  "until": rule.ends_at.isoformat()}  # fmt: skip
        self.incidents.note(inc.id, now, "maintenance", detail)
        self.platform.audit.append("hx:self-healing", "remediation.suppressed", f"incident:{inc.id}", "suppressed",
                                   detail)  # fmt: skip
        return True

    def _firing_elsewhere(self, incident_id: int, services: set[str]) -> set[str]:
        """Which of ``services`` have a firing alert in another open incident."""
        return AlertRepo(self.platform.store).services_firing_elsewhere(incident_id, services)

    # ---- endings ---------------------------------------------------------------------------------

    def _after_alerts(self, incident_id: int, now: datetime) -> None:
        inc = self.incidents.get(incident_id)
        if not inc.is_open or inc.firing or inc.classified_by == "pending":
            return
        active = self.executions.list(incident_id=inc.id, states=EXEC_ACTIVE, limit=5)
        if active:
            return
        self._resolve(inc, "hx", "every alert resolved", now)

    def _execution_finished(self, ex: Execution, now: datetime) -> None:
        inc = self.incidents.get(ex.incident_id)
        if not inc.is_open:
            return
        if ex.state == "succeeded":
            self._resolve(inc, "hx:self-healing", f"{FIXED_BY_RUNBOOK} {ex.runbook} on {ex.target}, verified", now)
        else:
            self.escalator.escalate(inc, f"runbook {ex.runbook} ended {ex.state}: {ex.reason}")

    def _resolve(self, inc: Incident, by: str, reason: str, now: datetime) -> None:
        inc = self.manager.resolve(inc.id, by, reason, now)
        self.escalator.notify(inc, "resolved", summary=reason)
        self.escalator.forget_resolved(inc.id)

    def resolve_manually(self, incident_id: int, actor: str, reason: str) -> Incident:
        for ex in self.executions.list(incident_id=incident_id, states=EXEC_ACTIVE, limit=5):
            self.remediation.reject(ex.id, actor, "incident resolved manually")
        inc = self.manager.resolve(incident_id, actor, reason or f"resolved by {actor}")
        self.escalator.notify(inc, "resolved", summary=inc.resolution)
        self.escalator.forget_resolved(inc.id)
        return inc

    def acknowledge(self, incident_id: int, actor: str) -> Incident:
        inc = self.manager.acknowledge(incident_id, actor)
        try:
            self.escalator._record(self.escalator.dispatcher.acknowledge(str(inc.id)))
        except NotFound:
            # nobody has been notified about this incident yet, so there is nobody to tell it is acknowledged
            log.info("incident %s acknowledged before any notification went out", inc.id)
        return inc

    def health(self) -> dict[str, Any]:
        """``degraded`` (with the notifications' detail) when a notifier is failing."""
        notifications = self.escalator.health()
        out = {"status": notifications["status"], "classifier": self.handle.health(), "runbooks": len(self.runbooks),
               "open_incidents": self.incidents.count(status=OPEN_STATES), "notifications": notifications,
               "intake": self.intake.health()}  # fmt: skip
        if "detail" in notifications:
            out["detail"] = notifications["detail"]
        return out


def triage_lead() -> Any:
    from datetime import timedelta

    return timedelta(seconds=triage.ONSET_LEAD_S)

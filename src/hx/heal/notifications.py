"""Telling people: incidents become notifications through the notify package's Dispatcher and the outbox.

Messages carry the class, the top root-cause candidates, the actions taken and their results, and
links.  The Dispatcher decides who is told; each message is queued in the outbox (:meth:`Escalator.enqueue`, the
one entry point) and delivered by :class:`~hx.heal.outbox.OutboxWorker` -- a thread of its own on the wall clock,
inline at the end of the engine step in simulated time -- so a slow or dead sink never holds the engine step.
Every delivery lands on the incident's timeline (and as a notification.* event).  The
dispatcher's per-incident state is persisted on the incident (``escalation`` column) and restored
when the engine is re-created.  ``escalate`` raises the message to ``critical``, which the default
rules send to every level at once (paging).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hx.errors import ConfigError, NotifierError, StoreError
from hx.events import IncidentEscalated, NotificationFailed, NotificationSent
from hx.heal.notify import (
    ActionTaken,
    Delivery,
    Dispatcher,
    EscalationPolicy,
    IncidentState,
    Link,
    Notification,
    Notifier,
    RootCause,
    build_enabled,
)
from hx.heal.notify.registry import Transport
from hx.heal.outbox import Outbox, OutboxWorker
from hx.heal.records import OPEN_STATES, AlertRepo, Incident, IncidentRepo
from hx.http import RetryPolicy
from hx.platform import Platform
from hx.quiet import QuietRule, active_rule
from hx.severity import Severity

log = logging.getLogger(__name__)


def build_notifiers(platform: Platform, transport: Transport | None = None) -> tuple[dict[str, Notifier], str]:
    """The enabled notifiers, or none with the reason (a misconfigured sink must not stop healing).

    Each makes one attempt per send, within ``notifiers.timeout_s``: the outbox retries, off the engine step."""
    n = platform.settings.notifiers
    one = RetryPolicy(max_attempts=1, timeout_s=n.timeout_s, max_total_s=n.timeout_s)
    try:
        return build_enabled(n, platform.secrets, transport or Transport(clock=platform.clock, retry=one), 1), ""
    except (NotifierError, ConfigError) as err:
        log.error("notifiers not built: %s", err)
        return {}, str(err)


def silence_for(platform: Platform, inc: Incident) -> QuietRule | None:
    """The silence in force for an incident's notifications (service, environment, any of its alert names), if any.

    The one check before anything is sent or queued; a silenced message is noted on the incident's timeline and
    audited."""
    names = {inc.title} | {a.name for a in AlertRepo(platform.store).for_incident(inc.id)}
    rule = active_rule(platform.store, "silence", platform.clock.now(), inc.service, inc.environment, sorted(names))
    if rule is not None:
        IncidentRepo(platform.store).note(inc.id, platform.clock.now(), "silenced", {"silence": rule.id,
                                                                                   "reason": rule.reason})  # fmt: skip
        platform.audit.append("hx:self-healing", "notification.silenced", f"incident:{inc.id}", "suppressed",
                              {"silence": rule.id, "reason": rule.reason, "by": rule.created_by})  # fmt: skip
    return rule


class Escalator:
    """Builds notifications from incidents and drives the Dispatcher; persists what it did."""

    def __init__(self, platform: Platform, notifiers: Mapping[str, Notifier], base_url: str = "http://127.0.0.1:8085",
                 problem: str = "", threaded: bool = False) -> None:  # fmt: skip
        from hx.store.leases import default_holder

        self.platform = platform
        self.repo = IncidentRepo(platform.store)
        self.base_url = base_url.rstrip("/")
        self.problem = problem
        self.threaded = threaded
        n = platform.settings.notifiers
        self.outbox = Outbox(platform.store, platform.clock, default_holder())
        self.worker = OutboxWorker(self.outbox, notifiers, platform.bus, self.repo, n.max_attempts, n.backoff_s,
                                   n.timeout_s)  # fmt: skip
        platform.on_shutdown.append(self.worker.close)  # the delivery thread ends with the server (or Platform.close)
        policy = EscalationPolicy.from_settings(platform.settings.self_healing.escalation)
        states = [IncidentState.from_dict(i.escalation) for i in self.repo.list(status=OPEN_STATES, limit=None)
                  if i.escalation]  # fmt: skip
        self.dispatcher = Dispatcher(policy, notifiers, platform.clock, states=states, enqueue=self.enqueue)

    def enqueue(self, notifier: str, message: Notification, event: str, level: int | None) -> Delivery:
        """The one way a notification leaves self-healing: queued in the outbox for ``notifier``, unless a silence
        holds the incident's notifications (escalation levels and follow-ups included): then it is noted on the
        incident and audited (:func:`silence_for`), and nothing is queued."""
        if message.incident_id.isdigit() and self._silenced(int(message.incident_id)):
            return Delivery(notifier=notifier, ok=True, attempts=0, reply="silenced", dedup_key=message.dedup_key,
                            incident_id=message.incident_id, event=event, level=level)  # fmt: skip
        return self.outbox.enqueue(notifier, message, event, level)

    def _silenced(self, incident_id: int) -> bool:
        from hx.errors import NotFound

        try:
            inc = self.repo.get(incident_id)
        except NotFound:
            return False
        return silence_for(self.platform, inc) is not None

    def message(self, inc: Incident, status: str = "triggered", severity: str | None = None,
                summary: str = "") -> Notification:  # fmt: skip
        actions = []
        for e in self.repo.timeline(inc.id):
            if e["kind"] == "action":
                d = e["detail"]
                detail = ("dry run: " if d.get("dry_run") else "") + str(d.get("detail", ""))[:300]
                actions.append(ActionTaken(str(d.get("action")), bool(d.get("ok")), detail, target=inc.service))
        causes = tuple(RootCause(str(c["service"]), str(c.get("metric") or "?"), float(c.get("score", 0.0)))
                       for c in inc.root_causes[:3])  # fmt: skip
        sev = Severity.parse(severity or inc.severity)
        return Notification(
            incident_id=str(inc.id), title=inc.title[:500], severity=sev, service=inc.service,
            environment=inc.environment, incident_class=inc.incident_class, status=status,  # type: ignore[arg-type]
            summary=summary or inc.resolution or f"{inc.incident_class} on {inc.service}", root_causes=causes,
            actions=tuple(actions[-10:]),
            links=(Link("Incident", f"{self.base_url}/api/v1/incidents/{inc.id}"),),
            opened_at=inc.opened_at, updated_at=self.platform.clock.now(),
        )  # fmt: skip

    def notify(self, inc: Incident, status: str = "triggered", severity: str | None = None, summary: str = "") -> None:
        if silence_for(self.platform, inc) is not None:
            return
        deliveries = self.dispatcher.notify(self.message(inc, status, severity, summary))
        self._record(deliveries)

    def escalate(self, inc: Incident, why: str) -> None:
        now = self.platform.clock.now()
        self.repo.note(inc.id, now, "escalated", {"reason": why})
        self.platform.bus.publish(IncidentEscalated(incident=inc.id, reason=why, incident_class=inc.incident_class),
                                  source="self-healing", subject=inc.service)  # fmt: skip
        self.notify(inc, "triggered", "critical", f"needs a person: {why}")

    def step(self) -> None:
        """Fire due escalation levels; then deliver (simulated time) or make sure the delivery thread runs."""
        self._record(self.dispatcher.step())
        if self.threaded:
            self.worker.ensure_running()
        else:
            self.worker.deliver_due()

    def _record(self, deliveries: list[Delivery]) -> None:
        """Persist the dispatcher's state; record refusals at once (queued messages are recorded when delivered)."""
        now = self.platform.clock.now()
        touched: set[str] = set()
        for d in deliveries:
            if d.incident_id is None or not d.incident_id.isdigit():
                continue
            touched.add(d.incident_id)
            if d.ok and d.reply in ("queued", "silenced"):
                continue
            detail: dict[str, Any] = {
                k: v
                for k, v in d.to_dict().items()
                if k in ("notifier", "ok", "attempts", "status", "error", "event", "level", "dedup_key")
            }
            self.repo.note(int(d.incident_id), now, "notification", detail)
            cls = NotificationSent if d.ok else NotificationFailed
            self.platform.bus.publish(cls.model_validate({"incident": int(d.incident_id), **detail}),
                                      source="self-healing", subject=d.notifier)  # fmt: skip
        for iid in touched:
            self._persist(int(iid))

    def _persist(self, incident_id: int) -> None:
        from hx.errors import Conflict, NotFound

        try:
            state = self.dispatcher.state(str(incident_id)).to_dict()
        except NotFound:
            return
        for _ in range(3):
            inc = self.repo.get(incident_id)
            try:
                self.repo.save(inc.__class__(**{**inc.__dict__, "escalation": state}), inc.updated_at)
                return
            except Conflict:
                continue

    def forget_resolved(self, incident_id: int) -> None:
        self.dispatcher.forget(str(incident_id))

    def health(self) -> dict[str, Any]:
        """``degraded`` naming each notifier whose latest delivery failed, a failing delivery thread (its last error,
        since when, failed passes in a row), or the build problem."""
        missing = self.dispatcher.missing_notifiers()
        out: dict[str, Any] = {"status": "ok", "notifiers": sorted(self.dispatcher.notifiers), "missing": missing}
        try:
            delivery = out["delivery"] = self.outbox.health(sorted(self.dispatcher.notifiers))
        except StoreError as err:
            delivery = out["delivery"] = {}
            out.update(status="degraded", detail=f"the outbox's delivery state is unreadable: {err}")
        failing = [f"{name} ({h['last_error']})" for name, h in delivery.items() if h["status"] == "failing"]
        if failing:
            out.update(status="degraded", detail="notifier failing: " + "; ".join(failing))
        worker = out["worker"] = self.worker.health()
        if worker["status"] == "failing":
            out.update(status="degraded", detail=f"notification outbox failing since {worker['failing_since']} "
                       f"({worker['consecutive_failures']} passes in a row): {worker['last_error']}")  # fmt: skip
        if self.problem:
            out.update(status="degraded", detail=self.problem)
        return out

    def at(self) -> datetime:
        return self.platform.clock.now()

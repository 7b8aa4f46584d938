"""Telling people: incidents become notifications through the notify package's Dispatcher.

Messages carry the class, the top root-cause candidates, the actions taken and their results, and
links; every delivery lands on the incident's timeline (and as a notification.* event).  The
dispatcher's per-incident state is persisted on the incident (``escalation`` column) and restored
when the engine is re-created.  ``escalate`` raises the message to ``critical``, which the default
rules send to every level at once (paging).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hx.errors import ConfigError, NotifierError
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
from hx.heal.records import AlertRepo, Incident, IncidentRepo
from hx.platform import Platform
from hx.quiet import QuietRule, active_rule
from hx.severity import Severity

log = logging.getLogger(__name__)


def build_notifiers(platform: Platform, transport: Transport | None = None) -> tuple[dict[str, Notifier], str]:
    """The enabled notifiers, or none with the reason (a misconfigured sink must not stop healing)."""
    try:
        return build_enabled(
            platform.settings.notifiers, platform.secrets, transport or Transport(clock=platform.clock)
        ), ""
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
                 problem: str = "") -> None:  # fmt: skip
        self.platform = platform
        self.repo = IncidentRepo(platform.store)
        self.base_url = base_url.rstrip("/")
        self.problem = problem
        policy = EscalationPolicy.from_settings(platform.settings.self_healing.escalation)
        states = [IncidentState.from_dict(i.escalation) for i in self.repo.list(status=("open", "acknowledged"))
                  if i.escalation]  # fmt: skip
        self.dispatcher = Dispatcher(policy, notifiers, platform.clock, states=states)

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
        self._record(self.dispatcher.step())

    def _record(self, deliveries: list[Delivery]) -> None:
        now = self.platform.clock.now()
        touched: set[str] = set()
        for d in deliveries:
            if d.incident_id is None or not d.incident_id.isdigit():
                continue
            touched.add(d.incident_id)
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
        missing = self.dispatcher.missing_notifiers()
        out: dict[str, Any] = {"status": "ok", "notifiers": sorted(self.dispatcher.notifiers), "missing": missing}
        if self.problem:
            out.update(status="degraded", detail=self.problem)
        return out

    def at(self) -> datetime:
        return self.platform.clock.now()

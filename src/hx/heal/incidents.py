"""Grouping alerts into incidents, and the incident's life: open, acknowledged, resolved.

A firing alert joins the open incident of the same environment whose service is the alert's service,
or that holds a neighbour in the call graph (caller or callee; as its own service or an alert's it grouped)
and was updated within ``window_s``; otherwise it opens a new incident.  An alert that matches several
incidents links them: it joins the oldest, and the others, if not yet triaged, are merged into it (their
alerts move over and they close as merged) -- so a chain's alerts make one incident in any arrival order.
A resolved alert takes its fingerprint off the incident's firing list; it never triggers an action.
Everything lands on the incident's timeline.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from hx.errors import Conflict
from hx.events import IncidentOpened, IncidentPredicted, IncidentResolved, IncidentUpdated, Payload
from hx.heal.records import OPEN_STATES, AlertRepo, AlertRow, Incident, IncidentRepo
from hx.platform import Platform
from hx.severity import Severity
from hx.store.tables import MERGED_INTO
from hx.topology import Topology

#: alerts applied in one transaction (short, so the intake's writes wait little on SQLite's write lock)
UNIT_ALERTS = 10


def neighbours(topology: Topology, service: str) -> set[str]:
    """The service, its callees and its callers.

    >>> from hx.topology import StaticTopology
    >>> sorted(neighbours(StaticTopology({"web": ["api"], "api": ["db"]}), "api"))
    ['api', 'db', 'web']
    """
    return {service, *topology.callees(service), *topology.callers(service)}


class IncidentManager:
    """Applies stored alerts to incidents."""

    def __init__(self, platform: Platform, window_s: float = 900.0, settle_s: float = 900.0) -> None:
        self.platform = platform
        self.repo = IncidentRepo(platform.store)
        self.alerts = AlertRepo(platform.store)
        self.window_s = window_s
        self.settle_s = settle_s

    def process_pending(self, now: datetime, limit: int = 500) -> list[int]:
        """Process one batch of stored, unprocessed alerts in arrival order; return the ids of incidents touched.

        Each alert is marked with its incident as it is applied (a resolution later in the batch finds its incident
        through that mark, :meth:`IncidentRepo.open_firing`), in transactions of :data:`UNIT_ALERTS` alerts: an
        alert's incident change and its mark commit together."""
        touched: list[int] = []
        rows = self.alerts.unprocessed(limit)
        for at in range(0, len(rows), UNIT_ALERTS):
            with self._unit():
                for row in rows[at : at + UNIT_ALERTS]:
                    inc = self.apply(row, now)
                    self.alerts.mark_processed(row.id, inc.id if inc is not None else None)
                    if inc is not None and inc.id not in touched:
                        touched.append(inc.id)
        return touched

    def _unit(self) -> AbstractContextManager[object]:
        """One transaction per chunk of alerts.  Events still commit in id order: SQLite serialises writers, and on
        PostgreSQL publishing takes the bus's transaction-scoped lock (:data:`hx.events.bus.EVENTS_LOCK_KEY`), so no
        event commits after a later-numbered one that a reader following the event ids has already passed."""
        return self.platform.store.unit()

    def apply(self, row: AlertRow, now: datetime) -> Incident | None:
        if row.status == "resolved":
            return self._resolved(row, now)
        inc = self._find(row, now)
        if inc is None:
            return self._open(row, now)
        if row.fingerprint in inc.firing:
            return inc
        if not inc.is_open:
            self.repo.note(inc.id, now, "alert_after_fix", _alert_detail(row))
            return inc
        sev = row.severity if Severity.parse(row.severity).rank > Severity.parse(inc.severity).rank else inc.severity
        labels = {**row.labels, **inc.labels}  # what the first alert lacked (a NodeDown's node after an anomaly)
        inc = self._save(replace(inc, firing=[*inc.firing, row.fingerprint], severity=sev, labels=labels), now)
        self.repo.note(inc.id, now, "alert", _alert_detail(row))
        self._publish(IncidentUpdated, inc, alert=row.name, alert_service=row.service)
        return inc

    def _find(self, row: AlertRow, now: datetime) -> Incident | None:
        related = neighbours(self.platform.topology, row.service)
        cutoff = now - timedelta(seconds=self.window_s)
        found = self.repo.open_matches(row.environment, row.service, related, cutoff)
        if found:
            inc = found[0]
            for other in found[1:]:
                if other.classified_by == "pending":  # triaged incidents keep their diagnosis and remediation
                    inc = self._merge(other, into=inc, now=now)
            return inc
        # an aftershock: symptoms on the service or a neighbour just after the fix settle by themselves
        return self.repo.recently_fixed(row.environment, related, now - timedelta(seconds=self.settle_s))

    def _open(self, row: AlertRow, now: datetime) -> Incident:
        inc = Incident(
            id=0, service=row.service, environment=row.environment, title=f"{row.name} on {row.service}",
            severity=row.severity, status="open", kind="reactive", incident_class="unknown", confidence=0.0,
            classified_by="pending", root_causes=[], labels=dict(row.labels), firing=[row.fingerprint], features={},
            escalation={}, opened_at=now, updated_at=now, resolution="",
        )  # fmt: skip
        inc = self.repo.insert(inc)
        self.repo.note(inc.id, now, "opened", {"by": "alert", **_alert_detail(row)})
        self._publish(IncidentOpened, inc, alert=row.name, labels=row.labels)
        return inc

    def open_predicted(self, service: str, environment: str, incident_class: str, title: str,
                       detail: dict[str, Any], now: datetime) -> Incident:  # fmt: skip
        inc = Incident(
            id=0, service=service, environment=environment, title=title, severity="warning", status="open",
            kind="predicted", incident_class=incident_class, confidence=0.0, classified_by="pending", root_causes=[],
            labels={"service": service, "predicted": "true"}, firing=[], features={}, escalation={}, opened_at=now,
            updated_at=now, resolution="",
        )  # fmt: skip
        inc = self.repo.insert(inc)
        self.repo.note(inc.id, now, "predicted", detail)
        self._publish(IncidentPredicted, inc, **detail)
        return inc

    def _merge(self, other: Incident, into: Incident, now: datetime) -> Incident:
        """Merge ``other`` into ``into``: its alerts and firing list move over, it closes as merged."""
        self.repo.move_alerts(other.id, into.id)
        worse = Severity.parse(other.severity).rank > Severity.parse(into.severity).rank
        firing = [*into.firing, *(f for f in other.firing if f not in into.firing)]
        labels = {**other.labels, **into.labels}
        into = self._save(
            replace(into, firing=firing, severity=other.severity if worse else into.severity, labels=labels), now
        )
        reason = f"{MERGED_INTO} {into.id}"
        other = self._save(replace(other, status="resolved", resolved_at=now, resolution=reason, firing=[]), now)
        self.repo.note(into.id, now, "merged", {"incident": other.id, "service": other.service})
        self.repo.note(other.id, now, "resolved", {"by": "grouping", "reason": reason})
        self._publish(IncidentResolved, other, by="grouping", reason=reason, mttr_s=None)
        self._publish(IncidentUpdated, into, merged=other.id)
        return into

    def _resolved(self, row: AlertRow, now: datetime) -> Incident | None:
        inc = self.repo.open_firing(row.fingerprint)
        if inc is None:
            return None
        inc = self._save(replace(inc, firing=[f for f in inc.firing if f != row.fingerprint]), now)
        self.repo.note(inc.id, now, "alert_resolved", _alert_detail(row))
        return inc

    def _save(self, inc: Incident, now: datetime) -> Incident:
        for _ in range(3):
            try:
                return self.repo.save(inc, now)
            except Conflict:
                fresh = self.repo.get(inc.id)
                inc = replace(inc, revision=fresh.revision)
        return self.repo.save(inc, now)

    # ---- people and endings -------------------------------------------------------------------

    def acknowledge(self, incident_id: int, actor: str) -> Incident:
        inc = self.repo.get(incident_id)
        if inc.status != "open":
            raise Conflict(f"incident {incident_id} is {inc.status}; only an open incident can be acknowledged")
        now = self.platform.clock.now()
        inc = self.repo.save(replace(inc, status="acknowledged", acknowledged_at=now), now)
        self.repo.note(inc.id, now, "acknowledged", {"by": actor})
        self.platform.audit.append(actor, "incident.acknowledge", f"incident:{inc.id}", "ok", {})
        self._publish(IncidentUpdated, inc, acknowledged_by=actor)
        return inc

    def resolve(self, incident_id: int, by: str, reason: str, now: datetime | None = None) -> Incident:
        inc = self.repo.get(incident_id)
        if inc.status not in OPEN_STATES:
            raise Conflict(f"incident {incident_id} is already {inc.status}")
        now = now or self.platform.clock.now()
        inc = self.repo.save(replace(inc, status="resolved", resolved_at=now, resolution=reason), now)
        self.repo.note(inc.id, now, "resolved", {"by": by, "reason": reason, "mttr_s": inc.mttr_s()})
        self._publish(IncidentResolved, inc, by=by, reason=reason, mttr_s=inc.mttr_s())
        return inc

    def _publish(self, cls: type[Payload], inc: Incident, **data: Any) -> None:
        """Publish a ``cls`` event for ``inc``: the incident's id, environment, status and class, plus ``data``."""
        payload = cls.model_validate({"incident": inc.id, "environment": inc.environment, "status": inc.status,
                                      "class": inc.incident_class, **data})  # fmt: skip
        self.platform.bus.publish(payload, source="self-healing", subject=inc.service)


def _alert_detail(row: AlertRow) -> dict[str, Any]:
    return {"alert": row.name, "service": row.service, "status": row.status, "fingerprint": row.fingerprint,
            "severity": row.severity, "labels": row.labels, "source": row.source,
            "starts_at": row.starts_at.isoformat(), "annotations": row.annotations}  # fmt: skip

"""Records of the self-healing engine and their persistence: alerts, incidents (+ timeline), executions.

Incidents and executions carry a ``revision`` for optimistic concurrency: ``save`` writes only if
nobody changed the row since it was read (a second replica, the API) and raises Conflict otherwise.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hx.errors import Conflict, NotFound
from hx.heal.tables import heal_alerts, heal_executions, heal_incidents, heal_timeline
from hx.store import Store
from hx.store.tables import FIXED_BY_RUNBOOK, INCIDENT_OPEN, MERGED_INTO

OPEN_STATES = INCIDENT_OPEN
EXEC_ACTIVE = ("pending", "awaiting_approval", "running")
Rows = list[dict[str, Any]]
EXEC_TERMINAL = ("succeeded", "failed", "escalated", "rejected", "dry_run", "cancelled")


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


@dataclass(frozen=True)
class AlertRow:
    """One received alert (or one status change of it), as stored by the intake."""

    dedup_key: str
    source: str
    group_key: str
    fingerprint: str
    status: str
    name: str
    service: str
    environment: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    received_at: datetime
    processed: bool = False
    incident_id: int | None = None
    id: int = 0

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for k in ("starts_at", "ends_at", "received_at"):
            out[k] = _iso(out[k])
        return out


#: how the engine words the resolution of an incident that a verified runbook fixed


@dataclass(frozen=True)
class Incident:
    id: int
    service: str
    environment: str
    title: str
    severity: str
    status: str
    kind: str  # "reactive" (from alerts) or "predicted"
    incident_class: str
    confidence: float
    classified_by: str
    root_causes: list[dict[str, Any]]
    labels: dict[str, str]
    firing: list[str]
    features: dict[str, Any]
    escalation: dict[str, Any]
    opened_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: str = ""
    revision: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    @property
    def healed_by_runbook(self) -> bool:
        """Resolved by a runbook whose fix was verified (the engine's own resolution)."""
        return self.resolved_at is not None and self.resolution.startswith(FIXED_BY_RUNBOOK)

    def mttr_s(self) -> float | None:
        """Seconds from open to resolved; None while open, and for an incident merged into another (it was not
        repaired: the incident it joined carries the repair)."""
        if self.resolved_at is None or self.resolution.startswith(MERGED_INTO):
            return None
        return (self.resolved_at - self.opened_at).total_seconds()

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for k in ("opened_at", "updated_at", "acknowledged_at", "resolved_at"):
            out[k] = _iso(out[k])
        out["mttr_s"] = self.mttr_s()
        return out


@dataclass(frozen=True)
class Execution:
    """One durable run of a runbook against one target."""

    id: int
    incident_id: int
    runbook: str
    target: str
    environment: str
    state: str
    step_index: int
    step_started_at: datetime | None
    step_attempts: int
    steps: list[dict[str, Any]]
    on_failure: str
    results: list[dict[str, Any]]
    dry_run: bool
    reason: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    revision: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def current_step(self) -> dict[str, Any] | None:
        return self.steps[self.step_index] if 0 <= self.step_index < len(self.steps) else None

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "extra"}
        for k in ("step_started_at", "created_at", "updated_at", "finished_at"):
            out[k] = _iso(out[k])
        return out


class AlertRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    def insert_new(self, rows: list[AlertRow]) -> int:
        """Insert the rows whose dedup key is new, in one statement; return how many were new (the rest are
        duplicates, also within ``rows``).  Counted from ``RETURNING``: the row count of ``ON CONFLICT DO NOTHING``
        is not the number of rows inserted on every driver (psycopg answered -1 per row)."""
        if not rows:
            return 0
        ins = sqlite_insert(heal_alerts) if self.store.dialect == "sqlite" else pg_insert(heal_alerts)
        stmt = ins.on_conflict_do_nothing(index_elements=["dedup_key"]).returning(heal_alerts.c.dedup_key)
        values = [{k: v for k, v in r.__dict__.items() if k != "id"} for r in rows]
        with self.store.begin() as conn:
            return len(conn.execute(stmt, values).all())

    def unprocessed(self, limit: int = 500) -> list[AlertRow]:
        q = select(heal_alerts).where(heal_alerts.c.processed.is_(False)).order_by(heal_alerts.c.id).limit(limit)
        with self.store.begin() as conn:
            return [AlertRow(**dict(r._mapping)) for r in conn.execute(q)]

    def mark_processed(self, alert_id: int, incident_id: int | None) -> None:
        self.mark_many([(alert_id, incident_id)])

    def mark_many(self, done: list[tuple[int, int | None]]) -> None:
        """Mark ``(alert id, incident id)`` pairs processed, in one transaction."""
        if not done:
            return
        stmt = update(heal_alerts).where(heal_alerts.c.id == bindparam("aid"))
        with self.store.begin() as conn:
            conn.execute(stmt.values(processed=True, incident_id=bindparam("iid")),
                         [{"aid": a, "iid": i} for a, i in done])  # fmt: skip

    def unmatched(self, status: str) -> int:
        """How many processed alerts of ``status`` matched no incident."""
        q = (
            select(func.count())
            .select_from(heal_alerts)
            .where(
                heal_alerts.c.processed.is_(True), heal_alerts.c.incident_id.is_(None), heal_alerts.c.status == status
            )
        )
        with self.store.begin() as conn:
            return int(conn.execute(q).scalar_one())

    def for_incident(self, incident_id: int) -> list[AlertRow]:
        q = select(heal_alerts).where(heal_alerts.c.incident_id == incident_id).order_by(heal_alerts.c.id)
        with self.store.begin() as conn:
            return [AlertRow(**dict(r._mapping)) for r in conn.execute(q)]

    def count(self) -> int:
        with self.store.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(heal_alerts)).scalar_one())

    def services_firing_elsewhere(self, incident_id: int, services: set[str]) -> set[str]:
        """Which of ``services`` have a firing alert that is still on another open incident's firing list."""
        if not services:
            return set()
        q = (
            select(heal_alerts.c.service, heal_alerts.c.fingerprint, heal_incidents.c.firing)
            .join(heal_incidents, heal_incidents.c.id == heal_alerts.c.incident_id)
            .where(heal_alerts.c.status == "firing", heal_alerts.c.service.in_(sorted(services)),
                   heal_incidents.c.status.in_(OPEN_STATES), heal_incidents.c.id != incident_id)
        )  # fmt: skip
        with self.store.begin() as conn:
            return {r.service for r in conn.execute(q) if r.fingerprint in (r.firing or [])}


class IncidentRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    def insert(self, inc: Incident) -> Incident:
        values = {k: v for k, v in inc.__dict__.items() if k != "id"}
        with self.store.begin() as conn:
            new_id = conn.execute(insert(heal_incidents).values(**values).returning(heal_incidents.c.id)).scalar_one()
        return replace(inc, id=int(new_id))

    def get(self, incident_id: int) -> Incident:
        with self.store.begin() as conn:
            r = conn.execute(select(heal_incidents).where(heal_incidents.c.id == incident_id)).first()
        if r is None:
            raise NotFound(f"no incident {incident_id}")
        return Incident(**dict(r._mapping))

    def list(
        self,
        *,
        status: tuple[str, ...] | None = None,
        service: str | None = None,
        kind: str | None = None,
        limit: int | None = 100,
        since: datetime | None = None,
    ) -> list[Incident]:
        q = select(heal_incidents).order_by(heal_incidents.c.id.desc()).limit(limit)
        if since is not None:
            q = q.where(heal_incidents.c.opened_at >= since)
        if status:
            q = q.where(heal_incidents.c.status.in_(status))
        if service:
            q = q.where(heal_incidents.c.service == service)
        if kind:
            q = q.where(heal_incidents.c.kind == kind)
        with self.store.begin() as conn:
            return [Incident(**dict(r._mapping)) for r in conn.execute(q)]

    def count(self, status: tuple[str, ...] | None = None) -> int:
        q = select(func.count()).select_from(heal_incidents)
        if status:
            q = q.where(heal_incidents.c.status.in_(status))
        with self.store.read() as conn:
            return int(conn.execute(q).scalar_one())

    def _first(self, *where: ColumnElement[bool]) -> Incident | None:
        q = select(heal_incidents).where(*where).order_by(heal_incidents.c.id.desc()).limit(1)
        with self.store.begin() as conn:
            r = conn.execute(q).first()
        return Incident(**dict(r._mapping)) if r is not None else None

    def open_matches(
        self, environment: str, service: str, related: set[str], since: datetime
    ) -> builtins.list[Incident]:
        """The open reactive incidents of ``environment`` on ``service``, or holding a ``related`` service (its own,
        or that of an alert it grouped) and updated since ``since``, oldest first -- indexed queries over every open
        incident, however many there are.  Through the grouped alerts' services a chain groups whatever order its
        alerts arrive in: web's incident, joined by api's alert, takes db's alert too (db calls nobody web calls);
        more than one match means the alert links incidents opened apart (db's, then web's, then api's alert)."""
        c, a = heal_incidents.c, heal_alerts.c
        members = select(a.incident_id).where(a.service.in_(sorted(related)), a.status == "firing",
                                              a.incident_id.is_not(None))  # fmt: skip
        q = select(heal_incidents).where(
            c.status.in_(OPEN_STATES), c.environment == environment, c.kind != "predicted",
            or_(c.service == service,
                and_(or_(c.service.in_(sorted(related)), c.id.in_(members)), c.updated_at >= since)),
        ).order_by(c.id)  # fmt: skip
        with self.store.begin() as conn:
            return [Incident(**dict(r._mapping)) for r in conn.execute(q)]

    def recently_fixed(self, environment: str, related: set[str], since: datetime) -> Incident | None:
        """The newest incident on a ``related`` service that a fix resolved since ``since`` (aftershocks join it)."""
        c = heal_incidents.c
        return self._first(c.status == "resolved", c.environment == environment, c.service.in_(sorted(related)),
                           c.resolved_at >= since, c.resolution.like("fixed by%"))  # fmt: skip

    def open_firing(self, fingerprint: str) -> Incident | None:
        """The newest open incident whose firing list holds ``fingerprint`` (found through the alert rows)."""
        ids = select(heal_alerts.c.incident_id).where(
            heal_alerts.c.fingerprint == fingerprint, heal_alerts.c.status == "firing"
        )
        q = select(heal_incidents).where(heal_incidents.c.id.in_(ids), heal_incidents.c.status.in_(OPEN_STATES))
        with self.store.begin() as conn:
            found = [Incident(**dict(r._mapping)) for r in conn.execute(q.order_by(heal_incidents.c.id.desc()))]
        return next((i for i in found if fingerprint in i.firing), None)

    def move_alerts(self, from_incident: int, to_incident: int) -> None:
        """Re-file every alert of ``from_incident`` under ``to_incident`` (a merge): their resolutions find it."""
        stmt = update(heal_alerts).where(heal_alerts.c.incident_id == from_incident).values(incident_id=to_incident)
        with self.store.begin() as conn:
            conn.execute(stmt)

    def pending_triage(self) -> builtins.list[Incident]:
        """Every open incident not yet classified, oldest first (no cap: a storm's incidents all get triaged)."""
        c = heal_incidents.c
        q = select(heal_incidents).where(c.status.in_(OPEN_STATES), c.classified_by == "pending").order_by(c.id)
        with self.store.begin() as conn:
            return [Incident(**dict(r._mapping)) for r in conn.execute(q)]

    def save(self, inc: Incident, now: datetime) -> Incident:
        values = {k: v for k, v in inc.__dict__.items() if k not in ("id", "revision", "opened_at")}
        values.update(updated_at=now, revision=inc.revision + 1)
        with self.store.begin() as conn:
            res = conn.execute(
                update(heal_incidents)
                .where(heal_incidents.c.id == inc.id, heal_incidents.c.revision == inc.revision)
                .values(**values)
            )
        if res.rowcount == 0:
            raise Conflict(f"incident {inc.id} changed concurrently; retry", incident=inc.id)
        return replace(inc, updated_at=now, revision=inc.revision + 1)

    def note(self, incident_id: int, ts: datetime, kind: str, detail: dict[str, Any]) -> None:
        """Append one entry to the incident's timeline."""
        with self.store.begin() as conn:
            conn.execute(insert(heal_timeline).values(incident_id=incident_id, ts=ts, kind=kind, detail=detail))

    def timeline(self, incident_id: int) -> Rows:
        q = select(heal_timeline).where(heal_timeline.c.incident_id == incident_id).order_by(heal_timeline.c.id)
        with self.store.begin() as conn:
            return [{"ts": r.ts.isoformat(), "kind": r.kind, "detail": r.detail} for r in conn.execute(q)]


class ExecutionRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    def insert(self, ex: Execution) -> Execution:
        values = {k: v for k, v in ex.__dict__.items() if k not in ("id", "extra")}
        with self.store.begin() as conn:
            new_id = conn.execute(insert(heal_executions).values(**values).returning(heal_executions.c.id)).scalar_one()
        return replace(ex, id=int(new_id))

    def get(self, ex_id: int) -> Execution:
        with self.store.begin() as conn:
            r = conn.execute(select(heal_executions).where(heal_executions.c.id == ex_id)).first()
        if r is None:
            raise NotFound(f"no remediation execution {ex_id}")
        return Execution(**dict(r._mapping))

    def list(
        self,
        *,
        states: tuple[str, ...] | None = None,
        target: str | None = None,
        incident_id: int | None = None,
        runbook: str | None = None,
        since: datetime | None = None,
        limit: int = 500,
    ) -> list[Execution]:
        q = select(heal_executions).order_by(heal_executions.c.id.desc()).limit(limit)
        if states:
            q = q.where(heal_executions.c.state.in_(states))
        if target:
            q = q.where(heal_executions.c.target == target)
        if incident_id is not None:
            q = q.where(heal_executions.c.incident_id == incident_id)
        if runbook:
            q = q.where(heal_executions.c.runbook == runbook)
        if since is not None:
            q = q.where(heal_executions.c.created_at >= since)
        with self.store.begin() as conn:
            return [Execution(**dict(r._mapping)) for r in conn.execute(q)]

    def save(self, ex: Execution, now: datetime) -> Execution:
        values = {k: v for k, v in ex.__dict__.items() if k not in ("id", "extra", "revision", "created_at")}
        values.update(updated_at=now, revision=ex.revision + 1)
        with self.store.begin() as conn:
            res = conn.execute(
                update(heal_executions)
                .where(heal_executions.c.id == ex.id, heal_executions.c.revision == ex.revision)
                .values(**values)
            )
        if res.rowcount == 0:
            raise Conflict(f"remediation execution {ex.id} changed concurrently; retry", execution=ex.id)
        return replace(ex, updated_at=now, revision=ex.revision + 1)

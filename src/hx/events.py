"""Typed domain events: persisted in the store, fanned out in-process, read by cursor elsewhere.

Engines never call each other: they publish events and consume the ones they care about.  A
consumer in another process reads ``events`` by cursor (``read(after=...)``), so the all-in-one
process and the one-service-per-component deployment run the same code.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, or_, select

from hx.clock import Clock, WallClock
from hx.errors import BadInput, UnknownName
from hx.store import Store
from hx.store.tables import events as events_table

log = logging.getLogger(__name__)


class EventType(enum.StrEnum):
    """Every event type hx publishes.  Publishing an unknown type is a programming error."""

    RUNTIME_STARTED = "runtime.started"
    RUNTIME_STEP_FAILED = "runtime.step_failed"
    ANOMALY_DETECTED = "anomaly.detected"
    ANOMALY_RESOLVED = "anomaly.resolved"
    ANOMALY_NO_DATA = "anomaly.no_data"
    DEPLOYMENT_REQUESTED = "deployment.requested"
    DEPLOYMENT_DECIDED = "deployment.decided"
    DEPLOYMENT_STEP = "deployment.step"
    DEPLOYMENT_ANALYSIS = "deployment.analysis"
    DEPLOYMENT_AWAITING_APPROVAL = "deployment.awaiting_approval"
    DEPLOYMENT_APPROVED = "deployment.approved"
    DEPLOYMENT_PAUSED = "deployment.paused"
    DEPLOYMENT_RESUMED = "deployment.resumed"
    DEPLOYMENT_PROMOTED = "deployment.promoted"
    DEPLOYMENT_ROLLED_BACK = "deployment.rolled_back"
    DEPLOYMENT_ROLLBACK_REQUESTED = "deployment.rollback_requested"
    DEPLOYMENT_ROLLBACK_REFUSED = "deployment.rollback_refused"
    DEPLOYMENT_ABORTED = "deployment.aborted"
    DEPLOYMENT_FAILED = "deployment.failed"
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_UPDATED = "incident.updated"
    INCIDENT_CLASSIFIED = "incident.classified"
    INCIDENT_ACTION = "incident.action"
    INCIDENT_ESCALATED = "incident.escalated"
    INCIDENT_RESOLVED = "incident.resolved"
    INCIDENT_PREDICTED = "incident.predicted"
    NOTIFICATION_SENT = "notification.sent"
    NOTIFICATION_FAILED = "notification.failed"
    SCALING_DECIDED = "scaling.decided"
    SCALING_ACTED = "scaling.acted"
    COST_REPORT = "cost.report"
    PLACEMENT_DECIDED = "placement.decided"
    DR_DRILL = "dr.drill"
    MODEL_TRAINED = "model.trained"
    MODEL_PROMOTED = "model.promoted"
    MODEL_RETIRED = "model.retired"
    IMPROVEMENT_CYCLE = "improvement.cycle"
    QUALITY_GATE = "improvement.quality_gate"
    SIM_FAULT_INJECTED = "sim.fault_injected"
    SIM_FAULT_HEALED = "sim.fault_healed"


@dataclass(frozen=True)
class Event:
    id: int
    ts: datetime
    type: str
    source: str
    subject: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts.isoformat(),
            "type": self.type,
            "source": self.source,
            "subject": self.subject,
            "data": dict(self.data),
        }


Handler = Callable[[Event], None]


def check_type_filter(types: Iterable[str]) -> list[str]:
    """A filter a user gave (event types, or ``family.*``), refused naming the first entry that matches nothing.

    >>> check_type_filter(["anomaly.*", "deployment.promoted"])
    ['anomaly.*', 'deployment.promoted']
    """
    known = [t.value for t in EventType]
    valid = set(known) | {f"{t.split('.', 1)[0]}.*" for t in known}
    out = list(types)
    for t in out:
        if t not in valid:
            raise UnknownName("event type", t, sorted(valid), field="type")
    return out


def _row_to_event(row: Any) -> Event:
    return Event(id=row.id, ts=row.ts, type=row.type, source=row.source, subject=row.subject, data=row.data)


class EventBus:
    """Publish = persist first, then fan out in-process; consumers elsewhere poll by cursor."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or WallClock()
        self._subscribers: list[tuple[frozenset[str] | None, Handler, str]] = []
        self._lock = threading.Lock()
        self.handler_errors = 0

    def subscribe(self, handler: Handler, types: Iterable[str] | None = None, name: str = "") -> None:
        """Call ``handler`` for each published event (of ``types`` if given; a prefix ``x.*`` matches)."""
        self._subscribers.append((frozenset(types) if types is not None else None, handler, name or repr(handler)))

    def publish(self, type_: EventType | str, data: Mapping[str, Any], *, source: str, subject: str = "") -> Event:
        try:
            etype = EventType(type_)
        except ValueError:
            raise BadInput(f"unknown event type {type_!r}", field="type") from None
        ts = self.clock.now()
        with self.store.begin() as conn:
            row = conn.execute(
                insert(events_table)
                .values(ts=ts, type=etype.value, source=source, subject=subject, data=dict(data))
                .returning(events_table.c.id)
            ).one()
        event = Event(id=int(row.id), ts=ts, type=etype.value, source=source, subject=subject, data=dict(data))
        self._fan_out(event)
        return event

    def _fan_out(self, event: Event) -> None:
        for types, handler, name in list(self._subscribers):
            if types is not None and not _matches(event.type, types):
                continue
            try:
                handler(event)
            except Exception:  # a consumer's bug must not stop the publisher; it is logged and counted
                self.handler_errors += 1
                log.exception("event handler %s failed on event %s (%s)", name, event.id, event.type)

    def read(
        self,
        *,
        after: int = 0,
        types: Iterable[str] | None = None,
        subject: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Events with id > ``after`` in id order (the cursor for cross-process consumers)."""
        q = select(events_table).where(events_table.c.id > after)
        type_list = list(types or [])
        exact = [t for t in type_list if not t.endswith(".*")]
        prefixes = [t[:-1] for t in type_list if t.endswith(".*")]
        if type_list:
            conds: list[ColumnElement[bool]] = [events_table.c.type.in_(exact)] if exact else []
            conds += [events_table.c.type.startswith(p) for p in prefixes]

            q = q.where(or_(*conds))
        if subject is not None:
            q = q.where(events_table.c.subject == subject)
        if since is not None:
            q = q.where(events_table.c.ts >= since)
        if until is not None:
            q = q.where(events_table.c.ts <= until)
        q = q.order_by(events_table.c.id).limit(max(1, min(limit, 1000)))
        with self.store.begin() as conn:
            return [_row_to_event(r) for r in conn.execute(q)]

    def last_id(self) -> int:

        with self.store.begin() as conn:
            return int(conn.execute(select(func.coalesce(func.max(events_table.c.id), 0))).scalar_one())


def _matches(etype: str, types: frozenset[str]) -> bool:
    if etype in types:
        return True
    return any(t.endswith(".*") and etype.startswith(t[:-1]) for t in types)

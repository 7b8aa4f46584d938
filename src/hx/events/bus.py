"""Typed domain events: persisted in the store, fanned out in-process, read by cursor elsewhere.

Engines never call each other: they publish events and consume the ones they care about.  A
consumer in another process reads ``events`` by cursor (``read(after=...)``), so the all-in-one
process and the one-service-per-component deployment run the same code.

A publisher gives a payload object (:mod:`hx.events.payloads`); its class says the event type.  ``read``
parses each stored row with its type's class and hands a consumer only rows that fit: a row that does not
is logged once per type and counted in :attr:`EventBus.malformed` (shown in ``/health``).  The event
listing for people (:meth:`EventBus.rows`: API and CLI) shows every row as stored, fitting or not.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Select, func, insert, or_, select, text

from hx.clock import Clock, WallClock
from hx.errors import BadInput, UnknownName
from hx.events.payloads import Payload, payload_class, payload_classes
from hx.events.types import EventType
from hx.store import Store
from hx.store.tables import events as events_table

log = logging.getLogger(__name__)

#: PostgreSQL: the transaction-scoped advisory lock taken before an event's id is drawn, held until it commits, so
#: events commit in id order (one transaction may publish many: the self-healing batches)
EVENTS_LOCK_KEY = 724202

TypeFilter = Iterable[str | EventType | type[Payload]]
"""Event types to select: payload classes or ``EventType`` members in code; strings (``family.*``) from users."""


@dataclass(frozen=True)
class RawEvent:
    """A stored event row as it is: what the API and CLI list, whether or not its payload fits its class."""

    id: int
    ts: datetime
    type: str
    source: str
    subject: str
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts.isoformat(),
            "type": self.type,
            "source": self.source,
            "subject": self.subject,
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class Event(RawEvent):
    """A stored event whose payload fits its type's class; a consumer narrows ``payload`` with ``isinstance``.

    ``data`` is the payload as stored (JSON), for listings; ``to_json`` is what users see."""

    payload: Payload


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


def type_names(types: TypeFilter) -> list[str]:
    """The stored type names (or ``family.*`` patterns) of a filter given as classes, members or strings.

    A payload class selects every type whose payload is an instance of it, so a shared base such as
    :class:`~hx.events.payloads.DeploymentPayload` selects its whole family.

    >>> from hx.events.payloads import AnomalyDetected, NotificationPayload
    >>> type_names([AnomalyDetected, EventType.ANOMALY_RESOLVED, "deployment.*"])
    ['anomaly.detected', 'anomaly.resolved', 'deployment.*']
    >>> type_names([NotificationPayload])
    ['notification.sent', 'notification.failed']
    """
    out: list[str] = []
    for t in types:
        if isinstance(t, type):
            names = [e.value for e, cls in payload_classes().items() if issubclass(cls, t)]
            if not names:
                raise BadInput(f"{t.__name__} is the payload of no event type", field="types")
            out += names
        else:
            out.append(t.value if isinstance(t, EventType) else t)
    return out


def _row_to_raw(row: Any) -> RawEvent:
    return RawEvent(id=row.id, ts=row.ts, type=row.type, source=row.source, subject=row.subject, data=row.data)


class EventBus:
    """Publish = persist first, then fan out in-process; consumers elsewhere poll by cursor."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or WallClock()
        self._subscribers: list[tuple[frozenset[str] | None, Handler, str]] = []
        self._lock = threading.Lock()
        self.handler_errors = 0
        self.malformed = 0
        self._malformed_ids: set[int] = set()
        self._malformed_types: set[str] = set()

    def subscribe(self, handler: Handler, types: TypeFilter | None = None, name: str = "") -> None:
        """Call ``handler`` for each published event (of ``types`` if given; a prefix ``x.*`` matches)."""
        wanted = frozenset(type_names(types)) if types is not None else None
        self._subscribers.append((wanted, handler, name or repr(handler)))

    def publish(self, payload: Payload, *, source: str, subject: str = "") -> Event:
        """Store ``payload`` as an event of its class's type, then hand it to in-process subscribers."""
        if not isinstance(payload, Payload):
            raise BadInput(f"publish takes a payload object, not {type(payload).__name__}", field="payload")
        etype = type(payload).event_type
        data = payload.model_dump(mode="json")
        ts = self.clock.now()
        with self.store.begin() as conn:
            if self.store.dialect == "postgresql":  # ids commit in order: a reader following them skips none
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENTS_LOCK_KEY})
            row = conn.execute(
                insert(events_table)
                .values(ts=ts, type=etype.value, source=source, subject=subject, data=data)
                .returning(events_table.c.id)
            ).one()
        event = Event(id=int(row.id), ts=ts, type=etype.value, source=source, subject=subject, data=data,
                      payload=payload)  # fmt: skip
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
        types: TypeFilter | None = None,
        subject: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Events with id > ``after`` in id order whose payload fits (the cursor for cross-process consumers).

        A row that does not fit its type's class is skipped, logged once per type and counted; the read goes on
        past it, so a cursor never stalls on a bad row."""
        limit = max(1, min(limit, 1000))
        out: list[Event] = []
        while len(out) < limit:
            raws = self.rows(after=after, types=types, subject=subject, since=since, until=until, limit=limit)
            out += [e for e in map(self.parse, raws) if e is not None]
            if len(raws) < limit:
                break
            after = raws[-1].id
        return out[:limit]

    def rows(
        self,
        *,
        after: int = 0,
        types: TypeFilter | None = None,
        subject: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[RawEvent]:
        """Stored rows as they are, fitting their payload class or not (the event listing for people)."""
        q = _select(after, type_names(types or []), subject, since, until)
        q = q.order_by(events_table.c.id).limit(max(1, min(limit, 1000)))
        with self.store.begin() as conn:
            return [_row_to_raw(r) for r in conn.execute(q)]

    def parse(self, raw: RawEvent) -> Event | None:
        """The row with its payload parsed, or None (logged once per type, counted once per row) if it does not fit."""
        try:
            payload = payload_class(raw.type).model_validate(raw.data)
        except (ValidationError, BadInput) as err:
            self._refused(raw, err)
            return None
        return Event(id=raw.id, ts=raw.ts, type=raw.type, source=raw.source, subject=raw.subject, data=raw.data,
                     payload=payload)  # fmt: skip

    def _refused(self, raw: RawEvent, err: Exception) -> None:
        with self._lock:
            if raw.id in self._malformed_ids:
                return
            self._malformed_ids.add(raw.id)
            self.malformed += 1
            first = raw.type not in self._malformed_types
            self._malformed_types.add(raw.type)
        if first:
            log.error("event %s (%s) does not fit its payload class and is not handed to consumers "
                      "(further %s rows are counted, not logged): %s", raw.id, raw.type, raw.type, err)  # fmt: skip

    def last_id(self) -> int:
        with self.store.begin() as conn:
            return int(conn.execute(select(func.coalesce(func.max(events_table.c.id), 0))).scalar_one())


def _select(
    after: int, type_list: list[str], subject: str | None, since: datetime | None, until: datetime | None
) -> Select[Any]:
    q = select(events_table).where(events_table.c.id > after)
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
    return q


def _matches(etype: str, types: frozenset[str]) -> bool:
    if etype in types:
        return True
    return any(t.endswith(".*") and etype.startswith(t[:-1]) for t in types)

"""The time window a dashboard shows, and the store reads every dashboard shares.

A dashboard reads what the platform recorded (events, audit records) over one window ending at ``until``
(default: now on the platform's clock).  Nothing here computes a figure: the dashboards' modules do, each from
these rows.

>>> from datetime import UTC, datetime
>>> w = Window.ending(datetime(2026, 3, 3, 12, tzinfo=UTC), hours=6)
>>> w.since.isoformat(), w.step_s(points=360)
('2026-03-03T06:00:00+00:00', 60.0)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from hx.store.tables import audit_log, events

if TYPE_CHECKING:
    from hx.platform import Platform

#: the most rows of one kind a dashboard reads for one window (the page says when it was reached)
ROW_CAP = 5000


@dataclass(frozen=True)
class Window:
    """[since, until] in UTC."""

    since: datetime
    until: datetime

    @classmethod
    def ending(cls, until: datetime, hours: float) -> Window:
        return cls(until - timedelta(hours=hours), until)

    @property
    def seconds(self) -> float:
        return (self.until - self.since).total_seconds()

    def step_s(self, points: int = 240) -> float:
        """A step that gives about ``points`` points over the window, never under 15 s."""
        return max(15.0, float(round(self.seconds / points)))

    def to_json(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "hours": self.seconds / 3600}


def event_rows(
    platform: Platform, types: Iterable[str], window: Window, subject: str | None = None, cap: int = ROW_CAP
) -> list[dict[str, Any]]:
    """Events of these types in the window (oldest first), as ``{id, ts, type, subject, data}``."""
    c = events.c
    q = select(c.id, c.ts, c.type, c.subject, c.data).where(
        c.type.in_(list(types)), c.ts >= window.since, c.ts <= window.until
    )
    if subject is not None:
        q = q.where(c.subject == subject)
    q = q.order_by(c.id.desc()).limit(cap)
    with platform.store.begin() as conn:
        rows = [
            {"id": int(r.id), "ts": r.ts.isoformat(), "type": r.type, "subject": r.subject, "data": dict(r.data)}
            for r in conn.execute(q)
        ]
    return rows[::-1]


def latest_event_at(platform: Platform) -> str | None:
    """When the platform last recorded anything (the page offers it when the window is empty)."""
    with platform.store.begin() as conn:
        ts = conn.execute(select(func.max(events.c.ts))).scalar_one_or_none()
    return ts.isoformat() if ts is not None else None


def audit_actors(platform: Platform, window: Window) -> list[tuple[str, str]]:
    """(actor, action) of every audit record in the window."""
    a = audit_log.c
    q = select(a.actor, a.action).where(a.ts >= window.since, a.ts <= window.until).limit(100_000)
    with platform.store.begin() as conn:
        return [(r.actor, r.action) for r in conn.execute(q)]

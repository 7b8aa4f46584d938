"""Quiet rules: silences, maintenance windows and change freezes.

A rule is scoped by service, environment and alert name (an empty scope field matches anything) and holds from
``starts_at`` to ``ends_at``. A **silence** holds notifications, a **maintenance window** holds remediation (the
runbook is not run and the incident says why), a **freeze** refuses new rollouts (naming the freeze). The engines
ask through :func:`active_rule`; every rule added or removed is audited by :class:`QuietRules`.

>>> from datetime import UTC, datetime
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> r = QuietRule(1, "freeze", "checkout", "", "", t, t.replace(day=2), "release freeze", "alice", t)
>>> r.matches("checkout", "prod", "", t.replace(hour=5)), r.matches("payments", "prod", "", t)
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from hx.errors import BadInput, NotFound
from hx.store.tables import QUIET_KINDS, quiet_rules

if TYPE_CHECKING:
    from hx.platform import Platform
    from hx.store import Store


@dataclass(frozen=True)
class QuietRule:
    """One silence, maintenance window or freeze; empty ``service``/``environment``/``alert`` match anything."""

    id: int
    kind: str
    service: str
    environment: str
    alert: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime
    removed_at: datetime | None = None
    removed_by: str | None = None

    def active(self, now: datetime) -> bool:
        return self.removed_at is None and self.starts_at <= now < self.ends_at

    def matches(self, service: str, environment: str, alert: str, now: datetime) -> bool:
        """In force at ``now`` for this service, environment and alert name (any alert when ``alert`` is empty)."""
        scope = ((self.service, service), (self.environment, environment), (self.alert, alert))
        return self.active(now) and all(not want or want == got for want, got in scope)

    def describe(self) -> str:
        scope = ", ".join(f"{k}={v}" for k, v in (("service", self.service), ("environment", self.environment),
                                                   ("alert", self.alert)) if v) or "everything"  # fmt: skip
        return (f"{self.kind} {self.id} ({scope}) until {self.ends_at.isoformat()} by {self.created_by}: "
                f"{self.reason}")  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.__dict__)
        for k in ("starts_at", "ends_at", "created_at", "removed_at"):
            out[k] = out[k].isoformat() if out[k] is not None else None
        return out


def _row(r: Any) -> QuietRule:
    return QuietRule(int(r.id), r.kind, r.service, r.environment, r.alert, r.starts_at, r.ends_at, r.reason,
                     r.created_by, r.created_at, r.removed_at, r.removed_by)  # fmt: skip


def check_kind(kind: str) -> str:
    if kind not in QUIET_KINDS:
        raise BadInput(f"unknown kind {kind!r}; valid: {', '.join(QUIET_KINDS)}", field="kind")
    return kind


def list_rules(store: Store, kind: str | None = None, *, at: datetime | None = None) -> list[QuietRule]:
    """Rules of ``kind`` (every kind when None), newest first; with ``at``, only those in force then."""
    q = select(quiet_rules)
    if kind is not None:
        q = q.where(quiet_rules.c.kind == check_kind(kind))
    if at is not None:
        c = quiet_rules.c
        q = q.where(c.removed_at.is_(None), c.starts_at <= at, c.ends_at > at)
    with store.begin() as conn:
        rows = conn.execute(q.order_by(quiet_rules.c.id.desc()).limit(1000)).all()
    return [_row(r) for r in rows]


def active_rule(store: Store, kind: str, now: datetime, service: str, environment: str,
                alerts: Iterable[str] = ()) -> QuietRule | None:  # fmt: skip
    """The first rule of ``kind`` in force at ``now`` for the service, environment and any of ``alerts``."""
    names = list(alerts) or [""]
    for rule in list_rules(store, kind, at=now):
        if any(rule.matches(service, environment, a, now) for a in names):
            return rule
    return None


class QuietRules:
    """Adds and removes rules; each change is audited with its actor."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.store = platform.store

    def add(self, kind: str, *, service: str = "", environment: str = "", alert: str = "",
            starts_at: datetime | None = None, ends_at: datetime, reason: str, actor: str) -> QuietRule:  # fmt: skip
        now = self.platform.clock.now()
        start = starts_at or now
        if ends_at <= start:
            raise BadInput(f"ends_at {ends_at.isoformat()} is not after starts_at {start.isoformat()}", field="ends_at")
        if not reason.strip():
            raise BadInput("a reason is required (say why it is quiet)", field="reason")
        values = dict(kind=check_kind(kind), service=service, environment=environment, alert=alert, starts_at=start,
                      ends_at=ends_at, reason=reason.strip(), created_by=actor, created_at=now)  # fmt: skip
        with self.store.begin() as conn:
            new_id = conn.execute(insert(quiet_rules).values(**values).returning(quiet_rules.c.id)).scalar_one()
        rule = self.get(int(new_id))
        self.platform.audit.append(actor, f"{kind}.add", f"{kind}:{rule.id}", "ok", rule.to_json())
        return rule

    def get(self, rule_id: int) -> QuietRule:
        with self.store.begin() as conn:
            row = conn.execute(select(quiet_rules).where(quiet_rules.c.id == rule_id)).first()
        if row is None:
            raise NotFound(f"no quiet rule {rule_id}; hx silence|maintenance|freeze list (or GET /api/v1/quiet)")
        return _row(row)

    def remove(self, rule_id: int, actor: str, kind: str | None = None) -> QuietRule:
        rule = self.get(rule_id)
        if kind is not None and rule.kind != kind:
            raise NotFound(f"rule {rule_id} is a {rule.kind}, not a {kind}")
        if rule.removed_at is None:
            now = self.platform.clock.now()
            with self.store.begin() as conn:
                conn.execute(update(quiet_rules).where(quiet_rules.c.id == rule_id)
                             .values(removed_at=now, removed_by=actor))  # fmt: skip
            rule = self.get(rule_id)
        self.platform.audit.append(actor, f"{rule.kind}.remove", f"{rule.kind}:{rule.id}", "ok", rule.to_json())
        return rule

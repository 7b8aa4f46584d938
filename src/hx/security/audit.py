"""The audit log: append-only, each record carrying the SHA-256 of the previous one.

The table also refuses UPDATE and DELETE by trigger; the hash chain catches what gets past that
(a restored backup, a hand-edited database file).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text

from hx.clock import Clock, WallClock
from hx.store import Store
from hx.store.tables import audit_log

GENESIS = "0" * 64


def record_hash(
    prev_hash: str, ts: datetime, actor: str, action: str, target: str, outcome: str, detail: Mapping[str, Any]
) -> str:
    """SHA-256 over the previous hash and a canonical JSON of the record."""
    body = json.dumps(
        {
            "prev": prev_hash,
            "ts": ts.isoformat(),
            "actor": actor,
            "action": action,
            "target": target,
            "outcome": outcome,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class AuditRecord:
    id: int
    ts: datetime
    actor: str
    action: str
    target: str
    outcome: str
    detail: Mapping[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "detail": dict(self.detail),
            "hash": self.hash,
        }


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records: int
    first_broken: int | None = None
    reason: str = ""


class AuditLog:
    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or WallClock()

    def append(
        self, actor: str, action: str, target: str, outcome: str, detail: Mapping[str, Any] | None = None
    ) -> AuditRecord:
        detail = json.loads(json.dumps(dict(detail or {}), default=str))
        ts = self.clock.now()
        with self.store.begin() as conn:
            if self.store.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(724201)"))
            last = conn.execute(select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)).first()
            prev = last.hash if last else GENESIS
            digest = record_hash(prev, ts, actor, action, target, outcome, detail)
            row = conn.execute(
                insert(audit_log)
                .values(
                    ts=ts,
                    actor=actor,
                    action=action,
                    target=target,
                    outcome=outcome,
                    detail=detail,
                    prev_hash=prev,
                    hash=digest,
                )
                .returning(audit_log.c.id)
            ).one()
        return AuditRecord(int(row.id), ts, actor, action, target, outcome, detail, prev, digest)

    def records(self, *, after: int = 0, limit: int = 100, actor: str | None = None) -> list[AuditRecord]:
        q = select(audit_log).where(audit_log.c.id > after)
        if actor:
            q = q.where(audit_log.c.actor == actor)
        q = q.order_by(audit_log.c.id).limit(max(1, min(limit, 1000)))
        with self.store.begin() as conn:
            return [AuditRecord(**r._mapping) for r in conn.execute(q)]

    def verify(self) -> VerifyResult:
        """Recompute the chain; name the first record whose hash or link does not hold."""
        prev = GENESIS
        count = 0
        with self.store.engine.connect() as conn:
            for r in conn.execute(select(audit_log).order_by(audit_log.c.id)).yield_per(1000):
                count += 1
                if r.prev_hash != prev:
                    return VerifyResult(False, count, r.id, "its prev_hash does not match the previous record")
                expected = record_hash(prev, r.ts, r.actor, r.action, r.target, r.outcome, r.detail)
                if expected != r.hash:
                    return VerifyResult(False, count, r.id, "its content does not match its hash")
                prev = r.hash
        return VerifyResult(True, count)

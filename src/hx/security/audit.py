"""The audit log: append-only, each record carrying a keyed MAC over the previous one's and its own content,
anchored outside the database by a signed export of the chain's head.

The table refuses UPDATE and DELETE by trigger; what gets past that (an operator with the database, a
restored backup, a hand-edited file) is caught by :meth:`AuditLog.verify`:

- a record rewritten, even with every later hash recomputed: its HMAC-SHA256 does not hold, because the key
  (derived from hx's secret key: ``HX_SECRET_KEY`` or the 0600 key file) is never in the database;
- the last records deleted: the exported head (:class:`AuditAnchor`, a signed JSON file outside the
  database, rewritten atomically after appends, lagging the chain by at most ``security.audit_head_interval_s``)
  names a record the database no longer has, or has otherwise.

Records written before the chain was keyed (a plain SHA-256 chain) are accepted only as a prefix, before
the first keyed record the head remembers.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import hmac
import json
import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import insert, select, text

from hx.clock import Clock, WallClock
from hx.errors import IntegrityError
from hx.security.private import private_dir, private_file, write_private
from hx.security.sealing import derive_key
from hx.store import Store
from hx.store.tables import audit_log

log = logging.getLogger(__name__)

GENESIS = "0" * 64
HEAD_FORMAT = "hx-audit-head/1"


def _canonical(
    prev_hash: str, ts: datetime, actor: str, action: str, target: str, outcome: str, detail: Mapping[str, Any]
) -> bytes:
    record = {"prev": prev_hash, "ts": ts.isoformat(), "actor": actor, "action": action, "target": target,
              "outcome": outcome, "detail": detail}  # fmt: skip
    return json.dumps(record, sort_keys=True, separators=(",", ":"), default=str).encode()


def record_hash(
    prev_hash: str, ts: datetime, actor: str, action: str, target: str, outcome: str, detail: Mapping[str, Any]
) -> str:
    """SHA-256 over the previous hash and a canonical JSON of the record (the unkeyed chain: what anyone can
    recompute, so it is accepted only for records written before the chain was keyed)."""
    return hashlib.sha256(_canonical(prev_hash, ts, actor, action, target, outcome, detail)).hexdigest()


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


Breach = Literal["", "link", "rewritten", "truncated", "head"]


@dataclass(frozen=True)
class VerifyResult:
    """What :meth:`AuditLog.verify` found: ``kind`` names the breach (``rewritten``, ``truncated``, ``link``,
    ``head``), ``first_broken`` the first record it concerns; ``anchored`` whether an exported
    head was checked (without one, truncation of the newest records cannot be ruled out)."""

    ok: bool
    records: int
    first_broken: int | None = None
    reason: str = ""
    kind: Breach = ""
    anchored: bool = False
    head_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "first_broken": self.first_broken, "reason": self.reason,
                "kind": self.kind, "anchored": self.anchored, "head_id": self.head_id}  # fmt: skip


@dataclass(frozen=True)
class Head:
    """The exported head: the newest record this process appended (id, MAC), and the first keyed record."""

    id: int
    hash: str
    keyed_from: int
    exported_at: str


class AuditAnchor:
    """The chain's key and its head, exported as a signed JSON file outside the database (0600, replaced
    atomically, only ever moved forward, under a file lock shared by every process on the host)."""

    def __init__(self, secret: bytes, path: Path, interval_s: float = 0.0) -> None:
        self._key = derive_key(secret, "audit-chain")
        self.path = path
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending: tuple[int, str] | None = None
        self._timer: threading.Timer | None = None
        self._at_exit = False
        self._exported_at = -math.inf

    def __repr__(self) -> str:
        return f"AuditAnchor({self.path}, <key hidden>)"

    def mac(self, body: bytes) -> str:
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()

    def record_mac(
        self, prev_hash: str, ts: datetime, actor: str, action: str, target: str, outcome: str,
        detail: Mapping[str, Any],
    ) -> str:  # fmt: skip
        return self.mac(_canonical(prev_hash, ts, actor, action, target, outcome, detail))

    def _signed(self, head: dict[str, Any]) -> str:
        return self.mac(json.dumps(head, sort_keys=True, separators=(",", ":")).encode())

    def read(self) -> Head | None:
        """The exported head, or None when there is none; IntegrityError when it is not one hx signed."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise IntegrityError(f"audit head {self.path} is unreadable: {err}", path=str(self.path)) from err
        if not isinstance(data, dict) or data.get("format") != HEAD_FORMAT:
            raise IntegrityError(f"audit head {self.path} is not an hx audit head", path=str(self.path))
        mac = data.pop("mac", "")
        if not hmac.compare_digest(str(mac), self._signed(data)):
            raise IntegrityError(f"audit head {self.path}: its signature does not hold", path=str(self.path))
        return Head(int(data["id"]), str(data["hash"]), int(data["keyed_from"]), str(data["exported_at"]))

    def maybe_export(self, record: AuditRecord) -> None:
        """Export ``record`` as the head now, or -- within ``interval_s`` of the last export -- when the interval
        ends (the newest record by then), so the head lags the chain by at most ``interval_s``."""
        with self._pending_lock:
            if self._pending is None or record.id > self._pending[0]:
                self._pending = (record.id, record.hash)
            wait = self.interval_s - (time.monotonic() - self._exported_at)
            if wait > 0:
                if self._timer is None:
                    self._timer = threading.Timer(wait, self._flush_logged)
                    self._timer.daemon = True
                    self._timer.start()
                    if not self._at_exit:
                        atexit.register(self._flush_logged)  # a short-lived process (the CLI) anchors too
                        self._at_exit = True
                return
        self.flush()

    def flush(self) -> None:
        """Export the newest record appended and not yet exported (at shutdown, and when the interval ends)."""
        with self._pending_lock:
            if self._timer is not None and self._timer is not threading.current_thread():
                self._timer.cancel()  # flushed now: the pending timer has nothing left to do
            take, self._pending, self._timer = self._pending, None, None
            self._exported_at = time.monotonic()
        if take is not None:
            self.export(*take)

    def _flush_logged(self) -> None:
        try:
            self.flush()
        except OSError as err:
            log.error("audit head %s not exported: %s", self.path, err)

    def export(self, record_id: int, record_hash: str) -> None:
        """Write the head (only forward: a head naming a newer record is kept)."""
        private_dir(self.path.parent)
        lock = private_file(self.path.with_name(self.path.name + ".lock"))
        with self._lock, lock.open("rb") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            current = self._current()
            if current is not None and current.id >= record_id:
                return
            head = {"format": HEAD_FORMAT, "id": record_id, "hash": record_hash,
                    "keyed_from": current.keyed_from if current is not None else record_id,
                    "exported_at": datetime.now().astimezone().isoformat()}  # fmt: skip
            head["mac"] = self._signed(head)
            write_private(self.path, (json.dumps(head, sort_keys=True) + "\n").encode())

    def _current(self) -> Head | None:
        try:
            return self.read()
        except IntegrityError:
            return None  # a damaged head is replaced by a good one; verify reports it until then


class AuditLog:
    """The audit records in the store: ``append``, ``records``, ``verify``."""

    def __init__(self, store: Store, clock: Clock | None = None, *, anchor: AuditAnchor) -> None:
        self.store = store
        self.clock = clock or WallClock()
        self.anchor = anchor

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
            digest = self.anchor.record_mac(prev, ts, actor, action, target, outcome, detail)
            values = dict(ts=ts, actor=actor, action=action, target=target, outcome=outcome, detail=detail,
                          prev_hash=prev, hash=digest)  # fmt: skip
            row = conn.execute(insert(audit_log).values(**values).returning(audit_log.c.id)).one()
        record = AuditRecord(int(row.id), ts, actor, action, target, outcome, detail, prev, digest)
        self.anchor.maybe_export(record)
        return record

    def export_head(self) -> None:
        """Export the newest record as the head (call after a verify that held: the head only moves forward)."""
        with self.store.begin() as conn:
            last = conn.execute(
                select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
            ).first()
        if last is not None:
            self.anchor.export(int(last.id), str(last.hash))

    def records(self, *, after: int = 0, limit: int = 100, actor: str | None = None) -> list[AuditRecord]:
        q = select(audit_log).where(audit_log.c.id > after)
        if actor:
            q = q.where(audit_log.c.actor == actor)
        q = q.order_by(audit_log.c.id).limit(max(1, min(limit, 1000)))
        with self.store.begin() as conn:
            return [AuditRecord(**r._mapping) for r in conn.execute(q)]

    def verify(self) -> VerifyResult:
        """Check every record's link and MAC, then the database against the exported head; name the first
        record that does not hold and what happened to it."""
        try:
            head = self.anchor.read()
        except IntegrityError as err:
            return VerifyResult(False, 0, None, str(err), "head")
        walk = _Walk(self.anchor, head)
        with self.store.engine.connect() as conn:
            for r in conn.execute(select(audit_log).order_by(audit_log.c.id)).yield_per(1000):
                broken = walk.check(r)
                if broken is not None:
                    return broken
        return walk.finish()


class _Walk:
    """One pass over the chain in id order (see :meth:`AuditLog.verify`)."""

    def __init__(self, anchor: AuditAnchor, head: Head | None) -> None:
        self.anchor, self.head = anchor, head
        self.prev, self.count, self.last_id, self.keyed = GENESIS, 0, 0, False
        self.head_seen = False

    def _broken(self, rid: int | None, reason: str, kind: Breach) -> VerifyResult:
        head_id = self.head.id if self.head else None
        return VerifyResult(False, self.count, rid, reason, kind, self.head is not None, head_id)

    def check(self, r: Any) -> VerifyResult | None:
        self.count += 1
        if r.prev_hash != self.prev:
            return self._broken(r.id, "its prev_hash does not match the previous record (a record was removed "
                                "or inserted before it)", "link")  # fmt: skip
        fields = (r.prev_hash, r.ts, r.actor, r.action, r.target, r.outcome, r.detail)
        if hmac.compare_digest(r.hash, self.anchor.record_mac(*fields)):
            self.keyed = True
        elif r.hash == record_hash(*fields) and not self.keyed and (self.head is None or r.id < self.head.keyed_from):
            pass  # written before the chain was keyed
        elif r.hash == record_hash(*fields):
            return self._broken(r.id, "its MAC does not hold: the record was rewritten and the chain recomputed "
                                "from here with a plain SHA-256 (without hx's key)", "rewritten")  # fmt: skip
        else:
            return self._broken(r.id, "its MAC does not hold: the record was rewritten (with or without "
                                "the later hashes recomputed) by someone without hx's key", "rewritten")  # fmt: skip
        if self.head is not None and r.id == self.head.id:
            self.head_seen = True
            if r.hash != self.head.hash:
                return self._broken(r.id, f"it differs from the record the exported head {self.anchor.path} "
                                    "names (the chain was cut and written again from here)", "truncated")  # fmt: skip
        self.prev, self.last_id = r.hash, int(r.id)
        return None

    def finish(self) -> VerifyResult:
        head = self.head
        if head is not None and not self.head_seen:
            missing = f"records after {self.last_id}" if self.last_id else "every record"
            return self._broken(
                self.last_id + 1,
                f"truncated: the exported head {self.anchor.path} (exported {head.exported_at}) names record "
                f"{head.id}, but the database ends at record {self.last_id or 'none'}; {missing} up to "
                f"{head.id} were deleted",
                "truncated",
            )
        return VerifyResult(True, self.count, None, "", "", head is not None, head.id if head else None)

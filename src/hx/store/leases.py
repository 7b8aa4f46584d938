"""Leader leases: with several hx replicas on one PostgreSQL store, one process at a time steps each engine.

A lease is a row (name, holder, expires_at).  :meth:`LeaseManager.acquire` takes it when it is free or
expired, or renews it when the caller already holds it, in one conditional UPDATE after an insert that
does nothing on conflict -- atomic on SQLite (one writer) and on PostgreSQL (row locks), so two replicas
can never both hold a lease.  A holder that stops renewing (crashed, partitioned) loses the lease after
its time-to-live, and a standby takes over on its next tick.

The same table holds per-service *ownership* leases (:class:`ServiceOwnership`): a rollout owns its service
from start to end (renewed while it runs, expiring after a crashed owner), and the other controllers (the
scaler, remediation) read the lease instead of another engine's tables.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hx.clock import Clock, WallClock
from hx.errors import BadInput
from hx.store.db import Store
from hx.store.tables import leases


def default_holder() -> str:
    """host:pid:random, unique per process start."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseManager:
    def __init__(self, store: Store, clock: Clock | None = None, holder: str | None = None) -> None:
        self.store = store
        self.clock = clock or WallClock()
        self.holder = holder or default_holder()

    def acquire(self, name: str, ttl_s: float) -> bool:
        """Take or renew ``name`` for ``ttl_s`` seconds; False when another live holder has it."""
        if ttl_s <= 0:
            raise BadInput(f"lease time-to-live must be positive, got {ttl_s}", field="ttl_s")
        now = self.clock.now()
        expires = now + timedelta(seconds=ttl_s)
        ins = sqlite_insert(leases) if self.store.dialect == "sqlite" else pg_insert(leases)
        with self.store.begin() as conn:
            # an expired placeholder row, so the conditional update below is the only way to hold the lease
            conn.execute(
                ins.values(name=name, holder="", expires_at=now - timedelta(seconds=1)).on_conflict_do_nothing(
                    index_elements=[leases.c.name]
                )
            )
            res = conn.execute(
                update(leases)
                .where(leases.c.name == name, or_(leases.c.holder == self.holder, leases.c.expires_at < now))
                .values(holder=self.holder, expires_at=expires)
            )
        return res.rowcount == 1

    def release(self, name: str) -> None:
        """Give the lease up now (on a clean shutdown), if this process holds it."""
        with self.store.begin() as conn:
            conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == self.holder))

    def holder_of(self, name: str) -> tuple[str, datetime] | None:
        with self.store.begin() as conn:
            row = conn.execute(select(leases.c.holder, leases.c.expires_at).where(leases.c.name == name)).first()
        if row is None or not row.holder or row.expires_at < self.clock.now():
            return None
        return str(row.holder), row.expires_at


class ServiceOwnership:
    """Who owns a service's replicas right now: ``owner:<service>`` leases held by named owners.

    The holder is the owner's own name (``deployment:42``), not the process, so a resumed rollout retakes its
    lease in whichever process drives it; a lease not renewed within its time-to-live frees the service.
    """

    PREFIX = "owner:"

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or WallClock()

    def take(self, service: str, owner: str, ttl_s: float) -> bool:
        """Take or renew the service's lease for ``owner``; False when another live owner holds it."""
        return LeaseManager(self.store, self.clock, holder=owner).acquire(self.PREFIX + service, ttl_s)

    def release(self, service: str, owner: str) -> None:
        LeaseManager(self.store, self.clock, holder=owner).release(self.PREFIX + service)

    def owner(self, service: str) -> str | None:
        """The live owner of ``service``, or None when nobody holds it (or the holder's lease expired)."""
        held = LeaseManager(self.store, self.clock, holder="").holder_of(self.PREFIX + service)
        return held[0] if held is not None else None

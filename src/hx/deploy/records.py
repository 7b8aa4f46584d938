"""The deployment record and its persistence (optimistic concurrency on ``revision``)."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from hx.errors import Conflict, NotFound
from hx.store import Store
from hx.store.tables import DEPLOYMENT_ACTIVE, DEPLOYMENT_TERMINAL, deployment_steps, deployments

ACTIVE = DEPLOYMENT_ACTIVE
TERMINAL = DEPLOYMENT_TERMINAL


@dataclass(frozen=True)
class Deployment:
    id: int
    service: str
    environment: str
    version: str
    from_version: str
    strategy: str
    state: str
    phase: str
    step_index: int
    step_started_at: datetime | None
    replicas: int
    plan: list[dict[str, Any]]
    rollback_plan: list[dict[str, Any]]
    requested_by: str
    approvals: list[dict[str, Any]]
    risk: dict[str, Any]
    decision: dict[str, Any]
    change: dict[str, Any]
    unsafe_rollback: bool
    analyses: list[dict[str, Any]]
    reason: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    revision: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def active_plan(self) -> list[dict[str, Any]]:
        return self.plan if self.phase == "forward" else self.rollback_plan

    @property
    def current_step(self) -> dict[str, Any] | None:
        plan = self.active_plan
        return plan[self.step_index] if 0 <= self.step_index < len(plan) else None

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "extra"}
        for k in ("step_started_at", "created_at", "updated_at", "finished_at"):
            v = out[k]
            out[k] = v.isoformat() if v is not None else None
        out["current_step"] = self.current_step
        return out


def _row(r: Any) -> Deployment:
    return Deployment(**{k: v for k, v in r._mapping.items()})


class DeploymentRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    def insert(self, d: Deployment) -> Deployment:
        values = {k: v for k, v in d.__dict__.items() if k not in ("id", "extra")}
        with self.store.begin() as conn:
            new_id = conn.execute(insert(deployments).values(**values).returning(deployments.c.id)).scalar_one()
        return replace(d, id=int(new_id))

    def get(self, dep_id: int) -> Deployment:
        with self.store.begin() as conn:
            r = conn.execute(select(deployments).where(deployments.c.id == dep_id)).first()
        if r is None:
            raise NotFound(f"no deployment {dep_id}")
        return _row(r)

    def list(
        self,
        service: str | None = None,
        states: tuple[str, ...] | None = None,
        limit: int = 100,
        since: datetime | None = None,
    ) -> builtins.list[Deployment]:
        q = select(deployments).order_by(deployments.c.id.desc()).limit(limit)
        if since is not None:
            q = q.where(deployments.c.created_at >= since)
        if service:
            q = q.where(deployments.c.service == service)
        if states:
            q = q.where(deployments.c.state.in_(states))
        with self.store.begin() as conn:
            return [_row(r) for r in conn.execute(q)]

    def active_for(self, service: str) -> Deployment | None:
        found = self.list(service=service, states=ACTIVE, limit=1)
        return found[0] if found else None

    def save(
        self, d: Deployment, now: datetime, log: tuple[str, dict[str, Any]] | None = None, of: Deployment | None = None
    ) -> Deployment:
        """Write ``d`` if nobody else changed it since it was read; append a step-log row in the same transaction.

        The log row names the step of ``of`` (the record before the change) when given, else of ``d``.
        """
        values = {k: v for k, v in d.__dict__.items() if k not in ("id", "extra", "revision", "created_at")}
        values["updated_at"] = now
        values["revision"] = d.revision + 1
        with self.store.begin() as conn:
            res = conn.execute(
                update(deployments)
                .where(deployments.c.id == d.id, deployments.c.revision == d.revision)
                .values(**values)
            )
            if res.rowcount == 0:
                raise Conflict(f"deployment {d.id} changed concurrently; retry", deployment=d.id)
            if log is not None:
                status, detail = log
                at = of or d
                step = at.current_step or {}
                conn.execute(
                    insert(deployment_steps).values(
                        deployment_id=d.id,
                        phase=at.phase,
                        step_index=at.step_index,
                        kind=str(step.get("kind", "-")),
                        status=status,
                        ts=now,
                        detail=detail,
                    )
                )
        return replace(d, updated_at=now, revision=d.revision + 1)

    def steps(self, dep_id: int) -> builtins.list[dict[str, Any]]:
        with self.store.begin() as conn:
            rows = conn.execute(
                select(deployment_steps)
                .where(deployment_steps.c.deployment_id == dep_id)
                .order_by(deployment_steps.c.id)
            ).all()
        return [
            {
                "phase": r.phase,
                "step_index": r.step_index,
                "kind": r.kind,
                "status": r.status,
                "ts": r.ts.isoformat(),
                "detail": r.detail,
            }
            for r in rows
        ]

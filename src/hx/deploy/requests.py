"""Rollback requests from other engines, consumed by cursor so they cross processes.

Self-healing never calls the deployment service: it publishes ``deployment.rollback_requested`` (service,
deployment id when it knows one, incident, reason).  The rollout engine reads those events by a persisted
cursor on each step and rolls back with an audited system principal naming the incident
(``hx:self-healing:incident:7``); the outcome is the rollout's own ``deployment.rolled_back`` events, or
``deployment.rollback_refused`` (with why) when there is nothing to roll back.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from hx.deploy.records import Deployment, DeploymentRepo
from hx.errors import Conflict, NotFound
from hx.events import DeploymentRollbackRefused, DeploymentRollbackRequested, Event
from hx.store.state import EngineStateStore

if TYPE_CHECKING:
    from hx.platform import Platform

log = logging.getLogger(__name__)

CURSOR_KEY = "rollback_request_cursor"
REQUESTS = (DeploymentRollbackRequested,)


def requester(event: Event) -> str:
    """The system principal a request acts as: the engine that asked and the incident it asked for."""
    incident = event.payload.incident if isinstance(event.payload, DeploymentRollbackRequested) else None
    base = f"hx:{event.source or 'system'}"
    return f"{base}:incident:{incident}" if incident is not None else base


class RollsBack(Protocol):
    """What the requests need of the engine that carries them out (:class:`hx.deploy.rollout.RolloutEngine`)."""

    name: str
    platform: Platform
    repo: DeploymentRepo

    def rollback_on_request(
        self, d: Deployment, actor: str, reason: str, now: datetime, request: int
    ) -> Deployment: ...


class RollbackRequests:
    """Reads rollback requests after the persisted cursor and hands each to the rollout engine once."""

    def __init__(self, engine: RollsBack) -> None:
        self.engine = engine
        platform = engine.platform
        self.state = EngineStateStore(platform.store, engine.name)

    def consume(self, now: datetime) -> int:
        """Handle every request published since the last step (in any process); return how many."""
        cursor = int((self.state.get(CURSOR_KEY) or {}).get("after", 0))
        handled = 0
        while events := self.engine.platform.bus.read(after=cursor, types=REQUESTS, limit=100):
            for event in events:
                self.handle(event, now)
                cursor = event.id
                self.state.put(CURSOR_KEY, {"after": cursor}, now)
            handled += len(events)
        return handled

    def handle(self, event: Event, now: datetime) -> Deployment | None:
        req = event.payload
        if not isinstance(req, DeploymentRollbackRequested):
            return None
        actor, service = requester(event), req.service or event.subject
        try:
            d = self._target(service, req.deployment)
            return self.engine.rollback_on_request(d, actor, req.reason, now, event.id)
        except (NotFound, Conflict) as err:
            self._refuse(event.id, req, actor, service, str(err))
            return None

    def _target(self, service: str, dep_id: Any) -> Deployment:
        repo = self.engine.repo
        if dep_id is not None:
            d = repo.get(int(dep_id))
            if d.service != service:
                raise Conflict(f"deployment {d.id} is of {d.service}, not {service}")
            return d
        latest = repo.list(service=service, limit=1)
        if not latest:
            raise NotFound(f"hx has no deployment of {service} to roll back")
        return latest[0]

    def _refuse(self, request: int, req: DeploymentRollbackRequested, actor: str, service: str, why: str) -> None:
        refused = DeploymentRollbackRefused(request=request, incident=req.incident, reason=why,
                                            deployment=req.deployment)  # fmt: skip
        log.warning("rollback of %s requested by %s refused: %s", service, actor, why)
        self.engine.platform.audit.append(
            actor,
            "deploy.rollback",
            service,
            "refused",
            refused.model_dump(mode="json", include={"request", "incident", "reason"}),
        )
        self.engine.platform.bus.publish(refused, source="ai-orchestrator", subject=service)

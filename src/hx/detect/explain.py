"""Signal changes an action explains: hx's own scaling and rollout steps, read from the event stream.

After hx scales a service in, its CPU and latency rise; after it scales out they fall; a rollout step restarts
instances and moves CPU and memory.  An operator expects those changes and does not page for them.  The detector
does the same: for ``action_window_s`` after such an action on a service, a change of a signal the action explains,
in the direction it explains, is published as ``anomaly.explained`` (annotated with the action) instead of
``anomaly.detected``.  Errors are never explained by an action, nor is latency by a rollout: that is what the
canary analysis and the detector are there to catch.

>>> a = Action("api", "scale in", 100.0, 1000.0, 7, "scaling.acted #7: scale in 5 -> 3", SCALE_SIGNALS, +1)
>>> a.explains("cpu_utilization", 200.0, rises=True), a.explains("cpu_utilization", 200.0, rises=False)
(True, False)
>>> a.explains("error_rate", 200.0, rises=True), a.explains("cpu_utilization", 2000.0, rises=True)
(False, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hx.events import DeploymentPromoted, DeploymentRolledBack, DeploymentStep, Event, EventBus, ScalingActed

#: what a change of replica count moves: per-replica load and the latency it drives
SCALE_SIGNALS = frozenset(
    {"cpu_utilization", "memory_utilization", "saturation", "replicas", "latency_p50", "latency_p95", "latency_p99"}
)
#: what a rollout step moves by restarting and replacing instances (not errors, not latency: regressions)
DEPLOY_SIGNALS = frozenset({"cpu_utilization", "memory_utilization", "saturation", "replicas"})
ACTION_TYPES = (ScalingActed, DeploymentStep, DeploymentPromoted, DeploymentRolledBack)


@dataclass(frozen=True)
class Action:
    """One action hx took on a service, and what it explains until when.  ``direction``: +1 explains rises,
    -1 falls, 0 both."""

    service: str
    kind: str
    at: float
    until: float
    event_id: int
    what: str
    signals: frozenset[str]
    direction: int

    def explains(self, signal: str, ts: float, *, rises: bool) -> bool:
        if signal not in self.signals or not (self.at <= ts <= self.until):
            return False
        return self.direction == 0 or (self.direction > 0) == rises


def action_of(e: Event, window_s: float) -> Action | None:
    """The action an event records (None: an event that changed nothing, e.g. a failed scale)."""
    p, at = e.payload, e.ts.timestamp()
    if isinstance(p, ScalingActed):
        if not p.ok or p.after == p.before:
            return None
        kind = "scale in" if p.after < p.before else "scale out"
        what = f"{e.type} #{e.id}: {kind} {p.before} -> {p.after}"
        return Action(p.service, kind, at, at + window_s, e.id, what, SCALE_SIGNALS, 1 if p.after < p.before else -1)
    if isinstance(p, DeploymentStep | DeploymentPromoted | DeploymentRolledBack) and e.subject:
        what = f"{e.type} #{e.id}: {e.subject} {p.version} ({p.state})"
        return Action(e.subject, "rollout", at, at + window_s, e.id, what, DEPLOY_SIGNALS, 0)
    return None


class ActionLog:
    """The recent actions per service, read from the bus by cursor (the first read looks back one window, so a
    restarted detector still knows the actions of the last minutes)."""

    def __init__(self, bus: EventBus, window_s: float) -> None:
        self.bus = bus
        self.window_s = window_s
        self.cursor: int | None = None
        self.recent: dict[str, list[Action]] = {}

    def refresh(self, now: datetime) -> None:
        if self.window_s <= 0:
            return
        first = self.cursor is None
        seen = self.bus.last_id() if first else (self.cursor or 0)
        after = 0 if first else seen
        since = now - timedelta(seconds=self.window_s) if first else None
        while True:
            events = self.bus.read(after=after, types=list(ACTION_TYPES), since=since, limit=1000)
            for e in events:
                action = action_of(e, self.window_s)
                if action is not None:
                    self.recent.setdefault(action.service, []).append(action)
                after = e.id
            if len(events) < 1000:
                break
        self.cursor = max(after, seen)
        horizon = now.timestamp() - self.window_s
        self.recent = {s: kept for s, acts in self.recent.items() if (kept := [a for a in acts if a.until >= horizon])}

    def explaining(self, service: str, signal: str, ts: float, *, rises: bool) -> Action | None:
        """The latest action on ``service`` that explains this change of ``signal`` at ``ts``, if any."""
        for action in reversed(self.recent.get(service, [])):
            if action.explains(signal, ts, rises=rises):
                return action
        return None

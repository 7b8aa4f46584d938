"""Key performance indicators of the platform, computed from what it recorded.

Each KPI is a pure function of plain records (rollouts, incidents, anomaly counts) over a window, so
gates, reports and tests share one definition.  ``None`` means "no data in the window", which a gate
reports as ``no_data`` rather than pass or fail.  The records are read from the store's tables
(:mod:`hx.store.tables`) and events, not through the engines' repositories: this package imports no engine.

>>> from datetime import UTC, datetime
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> kp = KpiInputs(deployments=(), incidents=(), anomalies=3, window_s=86400.0)
>>> compute(kp)["detect.anomalies_per_day"]
3.0
>>> compute(kp)["deploy.change_failure_rate"] is None
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import func, select

from hx.events import EventType
from hx.store.tables import (
    DEPLOYMENT_FAILED,
    DEPLOYMENT_TERMINAL,
    FIXED_BY_RUNBOOK,
    INCIDENT_OPEN,
    MERGED_INTO,
    anomaly_labels,
    deployments,
    events,
    heal_incidents,
)

if TYPE_CHECKING:
    from hx.platform import Platform

TERMINAL = DEPLOYMENT_TERMINAL
FAILED_STATES = DEPLOYMENT_FAILED
OPEN_STATES = INCIDENT_OPEN


@dataclass(frozen=True)
class Rollout:
    """What the KPIs need of a deployment record."""

    state: str
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class IncidentRecord:
    """What the KPIs need of an incident record."""

    id: int
    kind: str
    status: str
    opened_at: datetime
    resolved_at: datetime | None
    resolution: str

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    @property
    def healed_by_runbook(self) -> bool:
        return self.resolved_at is not None and self.resolution.startswith(FIXED_BY_RUNBOOK)

    def mttr_s(self) -> float | None:
        return (self.resolved_at - self.opened_at).total_seconds() if self.resolved_at is not None else None


@dataclass(frozen=True)
class KpiInputs:
    """What the KPIs are computed from: the records of one window."""

    deployments: Sequence[Rollout]
    incidents: Sequence[IncidentRecord]
    anomalies: int
    window_s: float
    escalated: frozenset[int] = frozenset()
    labels: Sequence[bool] = ()  #: people's verdicts on the window's anomalies (True: a true positive)


def _finished(kp: KpiInputs) -> list[Rollout]:
    return [d for d in kp.deployments if d.state in TERMINAL]


def change_failure_rate(kp: KpiInputs) -> float | None:
    """Share of finished deployments that were rolled back or failed (DORA's change failure rate)."""
    done = _finished(kp)
    return sum(d.state in FAILED_STATES for d in done) / len(done) if done else None


def deployments_per_day(kp: KpiInputs) -> float | None:
    return len(kp.deployments) * 86400.0 / kp.window_s


def median_rollout_s(kp: KpiInputs) -> float | None:
    spans = [(d.finished_at - d.created_at).total_seconds() for d in _finished(kp) if d.finished_at is not None]
    return float(np.median(spans)) if spans else None


def _mttrs(kp: KpiInputs) -> list[float]:
    return [m for m in (i.mttr_s() for i in kp.incidents if i.kind == "reactive") if m is not None]


def mttr_median_s(kp: KpiInputs) -> float | None:
    m = _mttrs(kp)
    return float(np.median(m)) if m else None


def mttr_p90_s(kp: KpiInputs) -> float | None:
    m = _mttrs(kp)
    return float(np.percentile(m, 90)) if m else None


def auto_resolved_rate(kp: KpiInputs) -> float | None:
    """Share of resolved incidents (reactive or predicted) that a verified runbook fixed."""
    done = [i for i in kp.incidents if i.resolved_at is not None]
    return sum(i.healed_by_runbook for i in done) / len(done) if done else None


def escalation_rate(kp: KpiInputs) -> float | None:
    """Share of incidents (reactive or predicted) that were escalated to people."""
    return sum(i.id in kp.escalated for i in kp.incidents) / len(kp.incidents) if kp.incidents else None


def open_incidents(kp: KpiInputs) -> float | None:
    return float(sum(i.is_open for i in kp.incidents))


def anomalies_per_day(kp: KpiInputs) -> float | None:
    return kp.anomalies * 86400.0 / kp.window_s


def detection_precision(kp: KpiInputs) -> float | None:
    """Share of labelled anomalies that people said were real (true positives over all labelled)."""
    return sum(kp.labels) / len(kp.labels) if kp.labels else None


KPIS: Mapping[str, tuple[str, Callable[[KpiInputs], float | None]]] = {
    "deploy.change_failure_rate": ("share of finished rollouts rolled back or failed", change_failure_rate),
    "deploy.per_day": ("rollouts started per day", deployments_per_day),
    "deploy.median_rollout_s": ("median time from request to a terminal state", median_rollout_s),
    "heal.mttr_median_s": ("median time to resolve a reactive incident", mttr_median_s),
    "heal.mttr_p90_s": ("90th percentile time to resolve a reactive incident", mttr_p90_s),
    "heal.auto_resolved_rate": ("share of resolved incidents fixed by a verified runbook", auto_resolved_rate),
    "heal.escalation_rate": ("share of incidents escalated to people", escalation_rate),
    "heal.open_incidents": ("incidents still open", open_incidents),
    "detect.anomalies_per_day": ("anomaly alerts raised per day", anomalies_per_day),
    "detect.precision": ("share of labelled anomalies that were true positives", detection_precision),
}


def compute(kp: KpiInputs) -> dict[str, float | None]:
    return {name: fn(kp) for name, (_, fn) in KPIS.items()}


def _rollouts(since: datetime, now: datetime) -> Any:
    d = deployments.c
    cols = (d.state, d.created_at, d.finished_at)
    return select(*cols).where(d.created_at >= since, d.created_at <= now).order_by(d.id.desc()).limit(100_000)


def _incidents(since: datetime, now: datetime) -> Any:
    """The window's incidents, less those merged into another (part of it, not incidents of their own)."""
    i = heal_incidents.c
    cols = (i.id, i.kind, i.status, i.opened_at, i.resolved_at, i.resolution)
    q = select(*cols).where(i.opened_at >= since, i.opened_at <= now, i.resolution.not_like(f"{MERGED_INTO}%"))
    return q.order_by(i.id.desc()).limit(100_000)


def gather(platform: Platform, now: datetime, window_s: float) -> KpiInputs:
    """Read the window's records from the store."""
    since = now - timedelta(seconds=window_s)
    with platform.store.begin() as conn:
        deps = [Rollout(r.state, r.created_at, r.finished_at) for r in conn.execute(_rollouts(since, now))]
        incs = [IncidentRecord(int(r.id), r.kind, r.status, r.opened_at, r.resolved_at, r.resolution)
                for r in conn.execute(_incidents(since, now))]  # fmt: skip
    in_window = (events.c.ts >= since, events.c.ts <= now)
    count = select(func.count()).where(events.c.type == EventType.ANOMALY_DETECTED.value, *in_window)
    escalations = select(events.c.data).where(events.c.type == EventType.INCIDENT_ESCALATED.value, *in_window)
    with platform.store.begin() as conn:
        anomalies = int(conn.execute(count).scalar_one())
        escalated = frozenset(int(r.data["incident"]) for r in conn.execute(escalations) if "incident" in r.data)
        labelled = [bool(r.true_positive) for r in conn.execute(_labels(since, now))]
    return KpiInputs(deps, incs, anomalies, window_s, escalated, labelled)


def _labels(since: datetime, now: datetime) -> Any:
    c = anomaly_labels.c
    return select(c.true_positive).where(c.labelled_at >= since, c.labelled_at <= now).limit(100_000)


def describe() -> list[dict[str, Any]]:
    return [{"name": n, "description": d} for n, (d, _) in KPIS.items()]

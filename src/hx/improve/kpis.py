"""Key performance indicators of the platform, computed from what it recorded.

Each KPI is a pure function of plain records (deployments, incidents, anomaly counts) over a window, so
gates, reports and tests share one definition.  ``None`` means "no data in the window", which a gate
reports as ``no_data`` rather than pass or fail.

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

from hx.deploy.models import TERMINAL, Deployment, DeploymentRepo
from hx.events import EventType
from hx.heal.models import Incident, IncidentRepo

if TYPE_CHECKING:
    from hx.platform import Platform

FAILED_STATES = ("rolled_back", "failed")


@dataclass(frozen=True)
class KpiInputs:
    """What the KPIs are computed from: the records of one window."""

    deployments: Sequence[Deployment]
    incidents: Sequence[Incident]
    anomalies: int
    window_s: float
    escalated: frozenset[int] = frozenset()


def _finished(kp: KpiInputs) -> list[Deployment]:
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
}


def compute(kp: KpiInputs) -> dict[str, float | None]:
    return {name: fn(kp) for name, (_, fn) in KPIS.items()}


def gather(platform: Platform, now: datetime, window_s: float) -> KpiInputs:
    """Read the window's records from the store."""
    from hx.store.tables import events

    since = now - timedelta(seconds=window_s)
    deps = [d for d in DeploymentRepo(platform.store).list(limit=100_000, since=since) if d.created_at <= now]
    incs = [i for i in IncidentRepo(platform.store).list(limit=100_000, since=since) if i.opened_at <= now]
    in_window = (events.c.ts >= since, events.c.ts <= now)
    count = select(func.count()).where(events.c.type == EventType.ANOMALY_DETECTED.value, *in_window)
    escalations = select(events.c.data).where(events.c.type == EventType.INCIDENT_ESCALATED.value, *in_window)
    with platform.store.begin() as conn:
        anomalies = int(conn.execute(count).scalar_one())
        escalated = frozenset(int(r.data["incident"]) for r in conn.execute(escalations) if "incident" in r.data)
    return KpiInputs(deps, incs, anomalies, window_s, escalated)


def describe() -> list[dict[str, Any]]:
    return [{"name": n, "description": d} for n, (d, _) in KPIS.items()]

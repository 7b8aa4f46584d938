"""Risk of a change: a score in [0, 1] with its contributing factors named.

Every factor is read from signals and history (the store), not typed in by the caller; only the
size of the change comes from the change's own metadata (lines and files changed, a migration flag).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from hx.deploy.records import DeploymentRepo
from hx.errors import TelemetryError
from hx.events import EventBus, IncidentOpened
from hx.telemetry.base import SignalSource

#: Factor weights (sum to 1).  Chosen by principle: the service's present state and its recent
#: history matter most; the calendar and the change's size next.
WEIGHTS: dict[str, float] = {
    "cpu": 0.10,
    "memory": 0.08,
    "error_rate": 0.14,
    "traffic": 0.10,
    "time_of_week": 0.10,
    "change_size": 0.14,
    "recent_incidents": 0.12,
    "failed_deployments": 0.12,
    "error_budget": 0.10,
}
FEATURES: tuple[str, ...] = (*WEIGHTS, "migration")
#: the fewest examples of these features the strategy model (:mod:`hx.deploy.decision`) is trained on
MIN_ROWS = 10


@dataclass(frozen=True)
class Risk:
    score: float
    factors: dict[str, float]
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        contributions = {k: round(WEIGHTS.get(k, 0.0) * v, 4) for k, v in self.factors.items()}
        top = sorted(contributions, key=lambda k: -contributions[k])[:3]
        return {
            "score": round(self.score, 4),
            "factors": {k: round(v, 4) for k, v in self.factors.items()},
            "contributions": contributions,
            "top": top,
            "evidence": self.evidence,
        }

    def features(self) -> list[float]:
        return [self.factors[k] for k in FEATURES]


def clip01(x: float) -> float:
    return 0.0 if not math.isfinite(x) else max(0.0, min(1.0, x))


def time_of_week_factor(when: datetime) -> float:
    """Low on weekday working hours, high on Friday evening, nights and weekends."""
    wd, hour = when.weekday(), when.hour + when.minute / 60
    if wd >= 5:
        return 0.9
    working = 9 <= hour < 16
    if wd == 4:
        return 0.5 if working and hour < 13 else 0.9
    return 0.1 if working else 0.6


def change_size_factor(change: dict[str, Any]) -> float:
    lines = float(change.get("lines_changed", 0) or 0)
    files = float(change.get("files_changed", 0) or 0)
    return clip01(0.7 * math.log10(1 + lines) / 4 + 0.3 * math.log10(1 + files) / 2)


def combine(factors: dict[str, float]) -> float:
    base = sum(WEIGHTS[k] * factors[k] for k in WEIGHTS)
    return clip01(base + 0.15 * factors.get("migration", 0.0))


def _mean_recent(source: SignalSource, service: str, name: str, now: datetime, minutes: int, step: float) -> float:
    s = source.signal(service, name, now - timedelta(minutes=minutes), now, step)
    v = s.values[np.isfinite(s.values)]
    return float(v.mean()) if v.size else float("nan")


def assess(
    source: SignalSource,
    bus: EventBus,
    repo: DeploymentRepo,
    service: str,
    change: dict[str, Any],
    now: datetime,
    slo_error_rate: float = 0.01,
) -> Risk:
    ev: dict[str, Any] = {}
    f: dict[str, float] = {}
    try:
        cpu = _mean_recent(source, service, "cpu_utilization", now, 15, 60)
        mem = _mean_recent(source, service, "memory_utilization", now, 15, 60)
        err = _mean_recent(source, service, "error_rate", now, 15, 60)
        week = source.signal(service, "request_rate", now - timedelta(days=7), now, 300)
        wk = week.values[np.isfinite(week.values)]
        rate_now = _mean_recent(source, service, "request_rate", now, 15, 60)
        err_week = source.signal(service, "error_rate", now - timedelta(days=7), now, 300).values
    except TelemetryError as err_:
        ev["signals"] = f"unavailable: {err_}"
        cpu = mem = err = rate_now = float("nan")
        wk = np.array([])
        err_week = np.array([])
    f["cpu"] = clip01((cpu - 0.5) / 0.4)
    f["memory"] = clip01((mem - 0.6) / 0.35)
    f["error_rate"] = clip01(err / (5 * slo_error_rate))
    peak = float(np.percentile(wk, 95)) if wk.size else float("nan")
    f["traffic"] = clip01(rate_now / peak) if peak and math.isfinite(peak) and peak > 0 else 0.5
    f["time_of_week"] = time_of_week_factor(now)
    f["change_size"] = change_size_factor(change)
    incidents = bus.read(types=[IncidentOpened], subject=service, since=now - timedelta(days=7), limit=1000)
    f["recent_incidents"] = 1 - math.exp(-len(incidents) / 2)
    past = [d for d in repo.list(service=service, limit=200) if d.created_at >= now - timedelta(days=30)]
    failed = [d for d in past if d.state in ("rolled_back", "failed", "aborted")]
    f["failed_deployments"] = 1 - math.exp(-len(failed) / 2)
    ew = err_week[np.isfinite(err_week)]
    used = float(ew.mean()) / slo_error_rate if ew.size else 0.0
    f["error_budget"] = clip01(used)
    f["migration"] = 1.0 if change.get("migration") or change.get("unsafe_rollback") else 0.0
    ev.update(
        cpu=cpu,
        memory=mem,
        error_rate=err,
        request_rate=rate_now,
        weekly_p95_rate=peak,
        incidents_7d=len(incidents),
        failed_deployments_30d=len(failed),
        error_budget_used=used,
    )
    ev = {k: (round(v, 4) if isinstance(v, float) and math.isfinite(v) else v) for k, v in ev.items()}
    ev = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in ev.items()}
    return Risk(combine(f), f, ev)

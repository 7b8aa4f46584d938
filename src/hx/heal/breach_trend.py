"""Predictive maintenance: a robust linear trend that will breach a limit opens a proactive incident.

For each service, the recent window of ``disk_utilization`` and ``memory_utilization`` is fitted
with the Theil-Sen estimator (median of pairwise slopes, robust to spikes); when the slope is
clearly positive, the fit is monotone enough (Kendall's tau) and the limit is reached within the
horizon, an ``incident.predicted`` event opens an incident with the predicted time of breach --
before any threshold alert fires.

>>> import numpy as np
>>> t = np.arange(0.0, 3600.0, 60.0)
>>> p = predict_breach(t, 0.3 + t / 3600.0 * 0.25, limit=0.95, horizon_s=6 * 3600)
>>> round(p.eta_s / 3600, 1) if p else None
1.6
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from scipy import stats

from hx.errors import NotFound, TelemetryError, Unsupported
from hx.heal.incidents import IncidentManager
from hx.heal.records import OPEN_STATES, IncidentRepo
from hx.platform import Platform

#: signal -> (limit, incident class)
WATCHED: dict[str, tuple[float, str]] = {
    "disk_utilization": (0.95, "disk_full"),
    "memory_utilization": (0.95, "memory_leak"),
}


@dataclass(frozen=True)
class Prediction:
    slope_per_h: float
    level: float
    eta_s: float
    tau: float


def predict_breach(t: np.ndarray, v: np.ndarray, limit: float, horizon_s: float, min_slope_per_h: float = 0.2,
                   min_tau: float = 0.7, min_points: int = 10) -> Prediction | None:  # fmt: skip
    """When (seconds after the last point) the trend reaches ``limit``, if within ``horizon_s``; else None."""
    ok = np.isfinite(v)
    if ok.sum() < min_points:
        return None
    t, v = t[ok], v[ok]
    slope, intercept, _, _ = stats.theilslopes(v, t)
    slope_h = float(slope) * 3600.0
    if slope_h < min_slope_per_h:
        return None
    tau = float(stats.kendalltau(t, v).statistic)
    if not tau >= min_tau:
        return None
    level = float(intercept + slope * t[-1])
    eta = max(0.0, (limit - level) / float(slope))
    if eta > horizon_s:
        return None
    return Prediction(slope_h, level, eta, tau)


class PredictiveEngine:
    """Looks for trends that will breach a limit and opens predicted incidents."""

    name = "heal-predictive"

    def __init__(self, platform: Platform, manager: IncidentManager, interval_s: float = 300.0,
                 window_s: float = 1800.0, horizon_s: float = 6 * 3600.0, step_s: float = 60.0) -> None:  # fmt: skip
        self.platform = platform
        self.manager = manager
        self.repo = IncidentRepo(platform.store)
        self.interval_s = interval_s
        self.window_s = window_s
        self.horizon_s = horizon_s
        self.step_s = step_s

    def step(self, now: datetime) -> None:
        source = self.platform.source
        if source is None:
            return
        open_keys = {(i.service, i.incident_class) for i in self.repo.list(status=OPEN_STATES, limit=500)}
        for svc in source.services():
            for signal, (limit, cls) in WATCHED.items():
                if (svc, cls) in open_keys:
                    continue
                try:
                    s = source.signal(svc, signal, now - timedelta(seconds=self.window_s), now, self.step_s)
                except (TelemetryError, Unsupported, NotFound):
                    continue
                p = predict_breach(s.timestamps, s.values, limit, self.horizon_s)
                if p is not None:
                    self._open(svc, signal, limit, cls, p, now)
                    open_keys.add((svc, cls))

    def _open(self, svc: str, signal: str, limit: float, cls: str, p: Prediction, now: datetime) -> None:
        breach = now + timedelta(seconds=p.eta_s)
        detail: dict[str, Any] = {"signal": signal, "limit": limit, "level": round(p.level, 4),
                                  "slope_per_h": round(p.slope_per_h, 4), "kendall_tau": round(p.tau, 3),
                                  "predicted_breach_at": breach.isoformat(), "eta_s": round(p.eta_s, 1)}  # fmt: skip
        title = f"{signal} of {svc} will reach {limit:.0%} around {breach:%H:%M} UTC"
        self.manager.open_predicted(svc, self.platform.settings.environment, cls, title, detail, now)

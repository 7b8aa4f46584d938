"""Threshold alerting rules over a signal source, the way Prometheus alerting rules would fire.

hx's own anomaly detection publishes ``anomaly.detected`` events; where that is not running (the
benchmark, the training-set generator) these rules stand in: each is a condition on one service
signal that must hold for ``for_s`` seconds (``error_rate > 5% for 2m``), or a trend
(``predict_linear``-style: a linear fit over the window crosses the limit within ``horizon_s``).
:class:`RuleAlerter` turns rule states into firing/resolved alert rows, like Alertmanager would.

>>> [r.name for r in DEFAULT_RULES][:3]
['HighErrorRate', 'HighLatency', 'HighCPU']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np

from hx.errors import NotFound, TelemetryError, Unsupported
from hx.heal.intake import dedup_key
from hx.heal.records import AlertRow
from hx.telemetry.base import SignalSource


@dataclass(frozen=True)
class Rule:
    """``signal`` compared with ``threshold`` (``relative``: times its median over the 2 hours before)."""

    name: str
    signal: str
    threshold: float
    for_s: float = 120.0
    op: Literal["gt", "lt", "increase", "trend"] = "gt"
    relative: bool = False
    severity: str = "error"
    horizon_s: float = 0.0
    floor: float = 0.0
    min_slope_per_h: float = 0.0


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("HighErrorRate", "error_rate", 0.05, 120.0),
    Rule("HighLatency", "latency_p99", 2.0, 180.0, relative=True, floor=0.05),
    Rule("HighCPU", "cpu_utilization", 0.5, 180.0, severity="warning"),
    Rule(
        "MemoryGrowing",
        "memory_utilization",
        0.95,
        900.0,
        op="trend",
        horizon_s=4 * 3600,
        floor=0.45,
        min_slope_per_h=0.2,
    ),
    Rule("HighMemory", "memory_utilization", 0.85, 120.0),
    Rule(
        "DiskFilling", "disk_utilization", 0.95, 600.0, op="trend", horizon_s=2 * 3600, floor=0.3, min_slope_per_h=0.2
    ),
    Rule("DiskFull", "disk_utilization", 0.85, 60.0, severity="critical"),
    Rule("CrashLooping", "restarts", 6.0, 300.0, op="increase", severity="critical"),
    Rule("Saturated", "saturation", 0.8, 120.0),
    Rule("RequestSurge", "request_rate", 3.0, 180.0, relative=True, severity="warning"),
)


def _finite(v: np.ndarray) -> np.ndarray:
    out: np.ndarray = v[np.isfinite(v)]
    return out


def rule_holds(rule: Rule, values: np.ndarray, times: np.ndarray, baseline: float | None) -> bool:
    """Whether the rule's condition holds on ``values`` (the ``for_s`` window, NaN = gap)."""
    ok = np.isfinite(values)
    if ok.sum() < 2:
        return False
    v, t = values[ok], times[ok]
    if rule.op == "increase":
        return bool(v[-1] - v[0] > rule.threshold)
    if rule.op == "trend":
        if v.size < 6:
            return False
        slope, icpt = np.polyfit(t - t[-1], v, 1)
        half = v.size // 2
        late = np.polyfit(t[half:] - t[-1], v[half:], 1)[0]  # still rising now: a step change is not a trend
        steep = min(slope, late) * 3600.0 >= max(rule.min_slope_per_h, 1e-12)
        return bool(v[-1] >= rule.floor and steep and icpt + slope * rule.horizon_s >= rule.threshold)
    limit = rule.threshold * baseline if rule.relative and baseline is not None else rule.threshold
    if rule.relative:
        if baseline is None or not np.isfinite(baseline):
            return False
        limit = max(limit, rule.floor)
    return bool(np.all(v > limit)) if rule.op == "gt" else bool(np.all(v < limit))


class RuleAlerter:
    """Evaluates rules for services and emits alert rows on state changes (firing, then resolved)."""

    def __init__(self, source: SignalSource, rules: Sequence[Rule] = DEFAULT_RULES, step_s: float = 60.0,
                 environment: str = "dev") -> None:  # fmt: skip
        self.source = source
        self.rules = tuple(rules)
        self.step_s = step_s
        self.environment = environment
        self.active: dict[tuple[str, str], datetime] = {}

    def firing(self, services: Iterable[str], now: datetime) -> list[tuple[Rule, str]]:
        out = []
        for svc in services:
            for rule in self.rules:
                if self._holds(rule, svc, now):
                    out.append((rule, svc))
        return out

    def _holds(self, rule: Rule, svc: str, now: datetime) -> bool:
        lookback = timedelta(hours=2) if rule.relative else timedelta(seconds=rule.for_s)
        try:
            s = self.source.signal(svc, rule.signal, now - lookback - timedelta(seconds=rule.for_s), now, self.step_s)
        except (TelemetryError, Unsupported, NotFound):
            return False
        cut = now.timestamp() - rule.for_s
        recent = s.timestamps >= cut - 1e-6
        base = None
        if rule.relative:
            old = _finite(s.values[~recent])
            base = float(np.median(old)) if old.size >= 10 else None
        return rule_holds(rule, s.values[recent], s.timestamps[recent], base)

    def evaluate(self, services: Iterable[str], now: datetime) -> list[AlertRow]:
        """Alert rows for rules that started or stopped firing since the last call."""
        current = {(r.name, svc): r for r, svc in self.firing(services, now)}
        rows = []
        for key, rule in current.items():
            if key not in self.active:
                self.active[key] = now
                rows.append(self._row(rule.name, key[1], rule.severity, "firing", now, now))
        for key in [k for k in self.active if k not in current]:
            started = self.active.pop(key)
            rows.append(self._row(key[0], key[1], "warning", "resolved", started, now))
        return rows

    def _row(self, name: str, svc: str, severity: str, status: str, starts: datetime, now: datetime) -> AlertRow:
        fp = f"{name}:{svc}"
        labels = {"alertname": name, "service": svc, "severity": severity, "environment": self.environment}
        return AlertRow(
            dedup_key=dedup_key("rules", "rules", fp, starts, status), source="rules", group_key="rules",
            fingerprint=fp, status=status, name=name, service=svc, environment=self.environment, severity=severity,
            labels=labels, annotations={}, starts_at=starts, ends_at=now if status == "resolved" else None,
            received_at=now,
        )  # fmt: skip

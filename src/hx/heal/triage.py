"""Triage of a new incident: features, classification, root-cause candidates, the target to act on."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from hx.errors import BadInput, TelemetryError, Unsupported
from hx.heal import features as feat
from hx.heal.classify import Classification, classify
from hx.heal.rca import rank_root_causes
from hx.ml.registry import ModelHandle
from hx.telemetry.base import SignalSource

log = logging.getLogger(__name__)
RCA_SIGNALS = ("error_rate", "latency_p99", "cpu_utilization", "memory_utilization", "disk_utilization", "saturation")
ONSET_LEAD_S = 600.0


def rca_candidates(source: SignalSource | None, services: Sequence[str], graph: Mapping[str, Sequence[str]],
                   onset: datetime, now: datetime, alert_service: str, step_s: float = 60.0,
                   top: int = 3) -> list[dict[str, Any]]:  # fmt: skip
    """The RCA helper's ranking over the services' signals (and the call graph when known)."""
    if source is None or not services:
        return []
    start = onset - timedelta(hours=1)
    metrics: dict[str, dict[str, np.ndarray]] = {}
    stamps: np.ndarray | None = None
    for svc in services:
        for sig in RCA_SIGNALS:
            try:
                s = source.signal(svc, sig, start, now, step_s)
            except (TelemetryError, Unsupported):
                continue
            if stamps is None:
                stamps = s.timestamps
            if s.values.size == stamps.size and np.isfinite(s.values).any():
                metrics.setdefault(svc, {})[sig] = s.values
    if not metrics or stamps is None:
        return []
    sub = {k: [c for c in v if c in metrics] for k, v in graph.items() if k in metrics}
    try:
        ranked = rank_root_causes(metrics, stamps, onset.timestamp(), sub or None, alert_service=alert_service)
    except BadInput as err:
        log.warning("root-cause analysis skipped: %s", err)
        return []
    return [{"service": c.service, "metric": c.metric, "score": round(float(c.score), 3),
             "explanation": c.explanation} for c in ranked[:top]]  # fmt: skip


def incident_features(source: SignalSource | None, service: str, opened_at: datetime, now: datetime,
                      alert_names: Sequence[str], changes: Mapping[str, float], step_s: float) -> dict[str, float]:  # fmt: skip
    onset = opened_at - timedelta(seconds=ONSET_LEAD_S)
    return feat.extract(source, service, onset, now, alert_names, changes, step_s)


def decide_class(features: Mapping[str, float], handle: ModelHandle | None, min_conf: float) -> Classification:
    return classify(features, handle, min_conf)


def choose_target(service: str, alerting: Sequence[str], candidates: Sequence[Mapping[str, Any]]) -> str:
    """Act on the top root-cause candidate when it is one of the alerting services, else on the incident's service."""
    for c in candidates[:1]:
        if c["service"] in alerting:
            return str(c["service"])
    return service

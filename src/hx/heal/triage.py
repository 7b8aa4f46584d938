"""Triage of a new incident: features, classification, root-cause candidates, the target to act on."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from hx.errors import BadInput, NotFound, TelemetryError, Unsupported
from hx.heal import features as feat
from hx.heal.classify import Classification, classify
from hx.heal.rca import rank_root_causes
from hx.heal.records import AlertRow
from hx.ml.registry import ModelHandle
from hx.telemetry.base import SignalSource

log = logging.getLogger(__name__)
RCA_SIGNALS = ("error_rate", "latency_p99", "cpu_utilization", "memory_utilization", "disk_utilization", "saturation")
ONSET_LEAD_S = 600.0
#: Seconds an incident settles before triage: later alerts of the same incident (a callee, a second symptom)
#: and a few more samples make the class and the origin clearer (like Alertmanager's ``group_wait``).
TRIAGE_DELAY_S = 90.0


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
            except (TelemetryError, Unsupported, NotFound):
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


def incident_features(
    source: SignalSource | None,
    service: str,
    opened_at: datetime,
    now: datetime,
    alert_names: Sequence[str],
    changes: Mapping[str, float],
    step_s: float,
) -> dict[str, float]:
    onset = opened_at - timedelta(seconds=ONSET_LEAD_S)
    return feat.extract(source, service, onset, now, alert_names, changes, step_s)


def discount_own_restarts(feats: Mapping[str, float], own: int) -> dict[str, float]:
    """The features with the restart counter's rise less the ``own`` restarts hx itself made in the window.

    A rolling restart by a runbook moves the restart counter as a crash loop does; left in, it reads as one
    in the next incident on the service (and the service is restarted again).

    >>> f = discount_own_restarts({"restarts_pre": 0.0, "restarts_post": 7.0, "restarts_rel": 50.0}, 7)
    >>> f["restarts_post"], f["restarts_rel"]
    (0.0, 0.0)
    >>> discount_own_restarts({"restarts_pre": 0.0, "restarts_post": 12.0}, 7)["restarts_post"]  # 5 not ours
    5.0
    """
    out = dict(feats)
    pre, post = float(feats.get("restarts_pre", 0.0)), float(feats.get("restarts_post", 0.0))
    if own <= 0 or post <= pre:
        return out
    post = pre + max(0.0, post - pre - own)
    out["restarts_post"] = post
    out["restarts_rel"] = float(np.clip((post - pre) / (abs(pre) + 1e-3), -10.0, 50.0))
    return out


def decide_class(features: Mapping[str, float], handle: ModelHandle | None, min_conf: float) -> Classification:
    return classify(features, handle, min_conf)


#: Classes whose symptoms a failing callee also causes: a caller showing them while a callee alerts is left alone.
CALLEE_SENSITIVE = frozenset({"crash_loop", "error_spike", "latency_regression", "dependency_failure"})


def first_firing(alerts: Iterable[AlertRow]) -> dict[str, datetime]:
    """{service: when its first firing alert started}."""
    first: dict[str, datetime] = {}
    for a in alerts:
        if a.status == "firing" and (a.service not in first or a.starts_at < first[a.service]):
            first[a.service] = a.starts_at
    return first


#: A surge's entry must show its own request rate at least this much up (1.0: doubled) to be acted on instead.
SURGE_MIN_REL = 1.0


def surge_entry(focus: str, first_alert: Mapping[str, datetime], graph: Mapping[str, Sequence[str]]) -> str:
    """Where a traffic surge enters: an alerting service no alerting service calls (the focus when it is one).

    >>> t = datetime(2026, 1, 1)
    >>> surge_entry("api", {"web": t, "api": t}, {"web": ["api"], "api": []})
    'web'
    """
    alerting = set(first_alert) | {focus}
    entries = [s for s in alerting if not any(s in downstream(graph, c) for c in alerting - {s})]
    if not entries or focus in entries:
        return focus
    return min(entries, key=lambda s: (first_alert[s].timestamp() if s in first_alert else float("inf"), s))


def downstream(graph: Mapping[str, Sequence[str]], service: str) -> set[str]:
    """Every service ``service`` calls, directly or not.

    >>> sorted(downstream({"web": ["api"], "api": ["db"], "db": []}, "web"))
    ['api', 'db']
    """
    seen: set[str] = set()
    todo = list(graph.get(service, ()))
    while todo:
        s = todo.pop()
        if s not in seen:
            seen.add(s)
            todo.extend(graph.get(s, ()))
    return seen


def focus_service(
    service: str,
    first_alert: Mapping[str, datetime],
    graph: Mapping[str, Sequence[str]],
    candidates: Sequence[Mapping[str, Any]],
) -> str:
    """The service an incident is about: among its alerting services, those none of whose callees alert too.

    Symptoms travel up the call graph (a slow or failing callee makes its callers slow or failing), so an
    alerting service whose callee also alerts is more likely a victim than the origin.  Among the
    remaining ones: the top root-cause candidate, else the incident's own service, else the one that
    alerted first.

    >>> t = datetime(2026, 1, 1)
    >>> focus_service("web", {"web": t, "api": t}, {"web": ["api"], "api": []}, [])
    'api'
    >>> focus_service("web", {"web": t}, {"web": ["api"]}, [])
    'web'
    """
    alerting = set(first_alert) or {service}
    origins = [s for s in alerting if not (downstream(graph, s) & (alerting - {s}))] or sorted(alerting)
    for c in candidates[:1]:
        if c["service"] in origins:
            return str(c["service"])
    if service in origins:
        return service
    return min(origins, key=lambda s: (first_alert[s].timestamp() if s in first_alert else float("inf"), s))

"""Features of an incident for classification: alert names, the shape of signals around onset, recent changes.

One fixed-order vector (:data:`FEATURE_NAMES`), the same for training (the sim's injected faults) and
for live incidents.  Signal features are pure functions of arrays (:func:`signal_features`); the
source reading is one function (:func:`read_window`) so tests feed arrays directly.

>>> feats = keyword_features(["HighMemory"])
>>> feats["kw_memory"], feats["kw_disk"]
(1.0, 0.0)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

import numpy as np

from hx.errors import NotFound, TelemetryError, Unsupported
from hx.events import DeploymentPayload, EventBus, ScalingFields
from hx.telemetry.base import SignalSource

KEYWORDS: dict[str, str] = {
    "kw_memory": r"mem|oom|heap|leak",
    "kw_cpu": r"cpu|throttl",
    "kw_latency": r"latenc|slow|p9\d|duration",
    "kw_error": r"error|5xx|fail",
    "kw_crash": r"crash|restart|backoff",
    "kw_disk": r"disk|volume|filesystem|inode",
    "kw_dependency": r"depend|upstream|downstream|timeout",
    "kw_traffic": r"surge|traffic|request|saturat",
    "kw_node": r"node",
}
SIGNALS: tuple[str, ...] = (
    "error_rate", "latency_p99", "cpu_utilization", "memory_utilization", "disk_utilization", "restarts",
    "request_rate", "saturation", "ready_replicas", "replicas",
)  # fmt: skip
SIGNAL_FEATURES: tuple[str, ...] = tuple(
    f"{s}_{k}" for s in SIGNALS if s != "replicas" for k in ("pre", "post", "rel", "slope")
)
FEATURE_NAMES: tuple[str, ...] = (
    *KEYWORDS, *SIGNAL_FEATURES, "ready_ratio", "cpu_excess", "deploy_recent", "deploy_age_min", "scaled_recent",
)  # fmt: skip
PRE_S = 3600.0
POST_S = 900.0


def cpu_excess(f: Mapping[str, float]) -> float:
    """CPU the served load does not explain: CPU utilisation minus saturation (offered load over capacity,
    capped at 1) after onset; 0 without a saturation signal.  CPU taken by something other than requests
    (a runaway process) shows here, while a load rise (a surge, a daily ramp) moves both together.

    >>> cpu_excess({"cpu_utilization_post": 0.7, "saturation_post": 0.2, "saturation_pre": 0.3})
    0.5
    """
    sat_pre, sat_post = float(f.get("saturation_pre", 0.0)), float(f.get("saturation_post", 0.0))
    if sat_pre <= 0 and sat_post <= 0:
        return 0.0
    return round(float(f.get("cpu_utilization_post", 0.0)) - min(sat_post, 1.0), 6)


def keyword_features(names: Iterable[str]) -> dict[str, float]:
    text = " ".join(names).lower()
    return {k: 1.0 if re.search(p, text) else 0.0 for k, p in KEYWORDS.items()}


def _nanmed(v: np.ndarray) -> float:
    f = v[np.isfinite(v)]
    return float(np.median(f)) if f.size else float("nan")


def _slope_per_h(t: np.ndarray, v: np.ndarray) -> float:
    ok = np.isfinite(v)
    if ok.sum() < 3:
        return 0.0
    return float(np.polyfit((t[ok] - t[ok][0]) / 3600.0, v[ok], 1)[0])


def signal_features(name: str, t: np.ndarray, v: np.ndarray, onset: float) -> dict[str, float]:
    """pre (median before onset), post (median of the last third after), rel (relative change), slope (/h)."""
    pre_v, post_v = v[t < onset], v[t >= onset]
    pre = _nanmed(pre_v)
    tail = post_v[-max(2, len(post_v) // 3) :] if post_v.size else post_v
    post = _nanmed(tail) if tail.size else pre
    if not np.isfinite(post):
        post = pre
    rel = (post - pre) / (abs(pre) + 1e-3) if np.isfinite(pre) and np.isfinite(post) else 0.0
    slope = _slope_per_h(t[t >= onset], post_v)
    out = {"pre": pre, "post": post, "rel": float(np.clip(rel, -10.0, 50.0)), "slope": slope}
    return {f"{name}_{k}": (float(x) if np.isfinite(x) else 0.0) for k, x in out.items()}


def read_window(source: SignalSource, service: str, signal: str, start: datetime, end: datetime,
                step_s: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    try:
        s = source.signal(service, signal, start, end, step_s)
    except (TelemetryError, Unsupported, NotFound):  # NotFound: a source with no template for this signal
        return np.array([end.timestamp()]), np.array([np.nan])
    return s.timestamps, s.values


def recent_changes(bus: EventBus | None, service: str, at: datetime, window_s: float = 3600.0) -> dict[str, float]:
    """Deployments and scaling of ``service`` in the ``window_s`` before ``at`` (from deployment.*/scaling.* events)."""
    out = {"deploy_recent": 0.0, "deploy_age_min": 999.0, "scaled_recent": 0.0}
    if bus is None:
        return out
    since = at - timedelta(seconds=window_s)
    for e in bus.read(types=[DeploymentPayload, ScalingFields], subject=service, since=since, until=at, limit=200):
        if isinstance(e.payload, DeploymentPayload):
            out["deploy_recent"] = 1.0
            out["deploy_age_min"] = min(out["deploy_age_min"], (at - e.ts).total_seconds() / 60.0)
        else:
            out["scaled_recent"] = 1.0
    return out


def extract(
    source: SignalSource | None,
    service: str,
    onset: datetime,
    at: datetime,
    alert_names: Sequence[str],
    changes: Mapping[str, float] | None = None,
    step_s: float = 60.0,
) -> dict[str, float]:
    """The feature dict of an incident on ``service`` that began at ``onset``, as seen at ``at``."""
    feats = keyword_features(alert_names)
    start = onset - timedelta(seconds=PRE_S)
    ready = replicas = float("nan")
    for sig in SIGNALS:
        if source is None:
            t, v = np.array([at.timestamp()]), np.array([np.nan])
        else:
            t, v = read_window(source, service, sig, start, at, step_s)
        if sig == "replicas":
            replicas = _nanmed(v[-3:])
            continue
        feats.update(signal_features(sig, t, v, onset.timestamp()))
        if sig == "ready_replicas":
            ready = _nanmed(v[-3:])
    feats["ready_ratio"] = float(ready / replicas) if np.isfinite(ready) and replicas > 0 else 1.0
    feats["cpu_excess"] = cpu_excess(feats)
    feats.update(changes or {"deploy_recent": 0.0, "deploy_age_min": 999.0, "scaled_recent": 0.0})
    return {k: float(feats.get(k, 0.0)) for k in FEATURE_NAMES}


def vector(feats: Mapping[str, float]) -> np.ndarray:
    return np.array([float(feats.get(k, 0.0)) for k in FEATURE_NAMES], dtype=np.float64)

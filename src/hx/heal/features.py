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
#: Evidence kept with an incident's features for the rules, not a model input (the model reads
#: :data:`FEATURE_NAMES` only, so saved models stay valid): memory growth per hour the load does not explain.
MEMORY_BEYOND_LOAD = "memory_growth_beyond_load"


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


def capacity_loss(f: Mapping[str, float]) -> float:
    """Share of the service's capacity lost since onset, its ready replicas unchanged; 0 when it cannot be told.

    Saturation is offered load over capacity, so request rate over saturation is the capacity: unlike CPU or
    memory it does not move with the load (a surge, a daily ramp, the tail of an earlier incident in the
    baseline), only with what each replica can serve -- which something eating the CPU takes away.  Not told
    when the ready replicas changed (capacity moves with them) or a signal is missing.

    >>> capacity_loss({"request_rate_pre": 800.0, "saturation_pre": 1.0, "request_rate_post": 200.0,
    ...                "saturation_post": 0.8, "ready_replicas_pre": 2.0, "ready_replicas_post": 2.0})
    0.6875
    >>> capacity_loss({"request_rate_pre": 100.0, "saturation_pre": 0.1, "request_rate_post": 1000.0,
    ...                "saturation_post": 1.0, "ready_replicas_pre": 2.0, "ready_replicas_post": 2.0})  # a surge
    0.0
    """
    rr_pre, rr_post = float(f.get("request_rate_pre", 0.0)), float(f.get("request_rate_post", 0.0))
    sat_pre, sat_post = float(f.get("saturation_pre", 0.0)), float(f.get("saturation_post", 0.0))
    ready_pre, ready_post = float(f.get("ready_replicas_pre", 0.0)), float(f.get("ready_replicas_post", 0.0))
    if min(rr_pre, rr_post, sat_pre, sat_post, ready_pre) <= 0 or abs(ready_post - ready_pre) > 0.1 * ready_pre:
        return 0.0
    return round(1.0 - (rr_post / sat_post) / (rr_pre / sat_pre), 6)


def memory_growth_beyond_load(t: np.ndarray, memory: np.ndarray, load: np.ndarray, onset: float) -> float:
    """Memory growth per hour since ``onset`` that the load does not explain (nan when it cannot be told).

    Memory that follows the load (requests in flight, buffers, caches sized by traffic) rises with it and falls
    back with it; a leak grows with time whatever the load does.  Fit over the window
    ``memory = a + b * load + c * hours_since_onset`` (the load term learns how this service's memory follows
    its load, before and after onset): ``c`` is the growth left once the load is accounted for.  ``load`` is
    best saturation capped at 1 (the share of capacity busy: past it a service serves no more).

    The load must vary on its own for the split to mean anything (it does: traffic is never a straight
    line); a load rising exactly in step with time leaves it arbitrary.

    >>> t = np.arange(0.0, 7200.0, 60.0)
    >>> wobble = 0.3 + 0.05 * np.sin(t / 500.0)
    >>> load = wobble + np.maximum(t - 3600, 0) / 3600 * 0.4  # the load rising after onset
    >>> abs(round(memory_growth_beyond_load(t, 0.4 + 0.25 * load, load, 3600.0), 3))  # memory following it
    0.0
    >>> leak = np.maximum(t - 3600, 0) / 3600 * 0.5
    >>> round(memory_growth_beyond_load(t, 0.4 + 0.25 * wobble + leak, wobble, 3600.0), 3)  # a leak, load flat
    0.5
    >>> round(memory_growth_beyond_load(t, 0.4 + 0.25 * load + leak, load, 3600.0), 3)  # a leak while load rises
    0.5
    """
    ok = np.isfinite(t) & np.isfinite(memory) & np.isfinite(load)
    t, memory, load = t[ok], memory[ok], load[ok]
    if (t >= onset).sum() < 3 or (t < onset).sum() < 3:
        return float("nan")
    x = np.column_stack([np.ones_like(t), load, np.maximum(t - onset, 0.0) / 3600.0])
    coef = np.linalg.lstsq(x, memory, rcond=None)[0]
    return float(coef[2])


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
    """The feature dict of an incident on ``service`` that began at ``onset``, as seen at ``at``: every one of
    :data:`FEATURE_NAMES`, and :data:`MEMORY_BEYOND_LOAD` when the signals tell it."""
    feats = keyword_features(alert_names)
    start = onset - timedelta(seconds=PRE_S)
    ready = replicas = float("nan")
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for sig in SIGNALS:
        if source is None:
            t, v = np.array([at.timestamp()]), np.array([np.nan])
        else:
            t, v = read_window(source, service, sig, start, at, step_s)
        series[sig] = (t, v)
        if sig == "replicas":
            replicas = _nanmed(v[-3:])
            continue
        feats.update(signal_features(sig, t, v, onset.timestamp()))
        if sig == "ready_replicas":
            ready = _nanmed(v[-3:])
    feats["ready_ratio"] = float(ready / replicas) if np.isfinite(ready) and replicas > 0 else 1.0
    feats["cpu_excess"] = cpu_excess(feats)
    feats.update(changes or {"deploy_recent": 0.0, "deploy_age_min": 999.0, "scaled_recent": 0.0})
    out = {k: float(feats.get(k, 0.0)) for k in FEATURE_NAMES}
    beyond = _memory_beyond_load(series, onset.timestamp())
    if np.isfinite(beyond):
        out[MEMORY_BEYOND_LOAD] = round(beyond, 6)
    return out


def _memory_beyond_load(series: Mapping[str, tuple[np.ndarray, np.ndarray]], onset: float) -> float:
    """:func:`memory_growth_beyond_load` on the read signals: saturation (capped at 1) as the load, else the
    request rate; nan without memory or load (the rules then read the memory slope alone)."""
    t, mem = series.get("memory_utilization", (np.array([]), np.array([])))
    for sig, cap in (("saturation", 1.0), ("request_rate", np.inf)):
        lt, load = series.get(sig, (np.array([]), np.array([])))
        if lt.shape == t.shape and np.isfinite(load).sum() >= 3:
            return memory_growth_beyond_load(t, mem, np.minimum(load, cap), onset)
    return float("nan")


def vector(feats: Mapping[str, float]) -> np.ndarray:
    return np.array([float(feats.get(k, 0.0)) for k in FEATURE_NAMES], dtype=np.float64)

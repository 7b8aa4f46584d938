"""The predictive-scaler component: its engine, and where each service's capacity comes from.

A service's per-replica capacity and start-up time come, in order, from:

1. the platform's fleet-facts provider (``platform.fleet``; the embedded sim's capacity and start-up time);
2. the settings: ``intelligent_monitoring.scaling.capacity_rps.<service>`` (req/s one instance serves);
3. an estimate from telemetry: the median of ``request_rate / (ready_replicas x utilisation)`` over the last hour
   of samples with utilisation >= 5 % (>= 25 % when three samples or more are that busy), where the utilisation is
   the ``saturation`` signal (in-flight requests over the worker pool, capped at 1: the share of the pool in use,
   whatever else the machine runs) when the service exports one, else ``utilization`` (CPU); the profile's origin
   names the signal (start-up time then defaults to 60 s); an estimated capacity is estimated again every
   ``PROFILE_REFRESH_S`` (the engine's);
4. none: the service is reported once as not scalable (``scaling.decided`` with the reason) and left alone.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta

import numpy as np

from hx.engine import Engine
from hx.errors import BadInput, NotFound, TelemetryError
from hx.platform import Platform
from hx.scale.engine import PredictiveScaler, ProfileFn
from hx.scale.scaler import ServiceProfile
from hx.telemetry.base import SignalSource
from hx.telemetry.common import signal_step_s

log = logging.getLogger(__name__)

KEY = "forecast.engine"
DEFAULT_STARTUP_S = 60.0


#: the utilisation signals a capacity is estimated from, in order of preference
UTILIZATION_SIGNALS = ("saturation", "utilization")
#: samples at least this busy are preferred when there are three or more of them
BUSY_UTILIZATION = 0.25


def estimate_capacity(source: SignalSource, service: str, platform: Platform) -> float | None:
    """Per-replica req/s from the last hour of telemetry, or None when the signals are missing."""
    found = estimate_capacity_from(source, service, platform)
    return found[0] if found is not None else None


def estimate_capacity_from(source: SignalSource, service: str, platform: Platform) -> tuple[float, str] | None:
    """Per-replica req/s and the utilisation signal it was estimated from (:data:`UTILIZATION_SIGNALS`, the first
    with enough samples), or None when the signals are missing."""
    now = platform.clock.now()
    start = now - timedelta(hours=1)
    try:
        rate = source.signal(service, "request_rate", start, now, 60.0).values
        reps = source.signal(service, "ready_replicas", start, now, 60.0).values
    except (TelemetryError, NotFound, BadInput):
        return None
    for name in UTILIZATION_SIGNALS:
        try:
            util = source.signal(service, name, start, now, 60.0).values
        except (TelemetryError, NotFound, BadInput):
            continue
        if util.shape != rate.shape or util.shape != reps.shape:
            continue
        if name == "saturation":
            util = np.minimum(util, 1.0)  # queued requests wait beyond the pool: it is fully used, no more
        with np.errstate(invalid="ignore", divide="ignore"):
            cap = rate / (reps * util)
        ok = np.isfinite(cap) & (util >= 0.05) & (cap > 0)
        busy = ok & (util >= BUSY_UTILIZATION)
        if busy.sum() >= 3:  # a busy instance shows its capacity better (fixed costs, contention)
            ok = busy
        if ok.any():
            return float(np.median(cap[ok])), name
    return None


def profiles_for(platform: Platform, source: SignalSource) -> ProfileFn:
    """The profile lookup of the list above, bound to a platform."""
    fleet = platform.fleet

    def lookup(service: str) -> ServiceProfile | None:
        known = fleet.facts(service) if fleet is not None else None
        if known is not None:
            return ServiceProfile(known.capacity_rps, known.startup_s, origin=known.origin)
        configured = platform.settings.intelligent_monitoring.scaling.capacity_rps.get(service)
        if configured is not None:
            key = f"intelligent_monitoring.scaling.capacity_rps.{service}"
            return ServiceProfile(configured, DEFAULT_STARTUP_S, origin=f"configured ({key})")
        found = estimate_capacity_from(source, service, platform)
        if found is not None and math.isfinite(found[0]):
            return ServiceProfile(found[0], DEFAULT_STARTUP_S, origin=f"estimated from telemetry ({found[1]})")
        return None

    return lookup


def engine(platform: Platform) -> PredictiveScaler | None:
    existing = platform.services.get(KEY, PredictiveScaler)
    if existing is not None:
        return existing
    cfg = platform.settings.intelligent_monitoring.scaling
    if platform.source is None or not cfg.enabled:
        return None
    step = signal_step_s(platform.settings)
    eng = PredictiveScaler(
        platform, platform.source, platform.actuator, profiles_for(platform, platform.source), signal_step_s=step
    )
    platform.services.put(KEY, eng)
    platform.health_checks["predictive_scaler"] = eng.health
    return eng


def engines(platform: Platform) -> list[Engine]:
    eng = engine(platform)
    return [eng] if eng is not None else []

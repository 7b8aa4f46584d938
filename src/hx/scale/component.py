"""The predictive-scaler component: its engine, and where each service's capacity comes from.

A service's per-replica capacity and start-up time come, in order, from:

1. the platform's fleet-facts provider (``platform.fleet``; the embedded sim's capacity and start-up time);
2. an estimate from telemetry: the median of ``request_rate / (ready_replicas x utilization)`` over
   the last hour of samples with utilisation >= 5 % (start-up time then defaults to 60 s);
3. none: the service is reported once as not scalable (``scaling.decided`` with the reason) and left alone.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta

import numpy as np

from hx.errors import BadInput, NotFound, TelemetryError
from hx.platform import Platform
from hx.runtime import Engine
from hx.scale.engine import PredictiveScaler, ProfileFn, ServiceProfile
from hx.telemetry.base import SignalSource
from hx.telemetry.common import signal_step_s

log = logging.getLogger(__name__)

KEY = "forecast.engine"
DEFAULT_STARTUP_S = 60.0


def estimate_capacity(source: SignalSource, service: str, platform: Platform) -> float | None:
    """Per-replica req/s from the last hour of telemetry, or None when the signals are missing."""
    now = platform.clock.now()
    start = now - timedelta(hours=1)
    try:
        rate = source.signal(service, "request_rate", start, now, 60.0).values
        reps = source.signal(service, "ready_replicas", start, now, 60.0).values
        util = source.signal(service, "utilization", start, now, 60.0).values
    except (TelemetryError, NotFound, BadInput):
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        cap = rate / (reps * util)
    ok = np.isfinite(cap) & (util >= 0.05) & (cap > 0)
    return float(np.median(cap[ok])) if ok.any() else None


def profiles_for(platform: Platform, source: SignalSource) -> ProfileFn:
    """The profile lookup of the list above, bound to a platform."""
    fleet = platform.fleet

    def lookup(service: str) -> ServiceProfile | None:
        known = fleet.facts(service) if fleet is not None else None
        if known is not None:
            return ServiceProfile(known.capacity_rps, known.startup_s, origin=known.origin)
        cap = estimate_capacity(source, service, platform)
        if cap is not None and math.isfinite(cap):
            return ServiceProfile(cap, DEFAULT_STARTUP_S, origin="estimated from telemetry")
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

"""The anomaly-detector component: its engine."""

from __future__ import annotations

from hx.detect.engine import AnomalyEngine
from hx.engine import Engine
from hx.platform import Platform

KEY = "detect.engine"


def engine(platform: Platform) -> AnomalyEngine | None:
    existing = platform.services.get(KEY, AnomalyEngine)
    if existing is not None:
        return existing
    if platform.source is None or not platform.settings.intelligent_monitoring.anomaly_detection.enabled:
        return None
    eng = AnomalyEngine(platform, platform.source)
    platform.services.put(KEY, eng)
    platform.health_checks["anomaly_detector"] = eng.health
    return eng


def engines(platform: Platform) -> list[Engine]:
    eng = engine(platform)
    return [eng] if eng is not None else []

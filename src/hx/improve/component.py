"""The continuous-improvement component: its engine, shared by the API."""

from __future__ import annotations

from hx.engine import Engine
from hx.improve.cycle import ImprovementEngine
from hx.platform import Platform

KEY = "improve.engine"


def engine(platform: Platform) -> ImprovementEngine:
    existing = platform.services.get(KEY, ImprovementEngine)
    if existing is not None:
        return existing
    eng = ImprovementEngine(platform)
    platform.services.put(KEY, eng)
    platform.health_checks["improvement"] = eng.health
    return eng


def engines(platform: Platform) -> list[Engine]:
    return [engine(platform)]

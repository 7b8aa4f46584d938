"""The continuous-improvement component: its engine, shared by the API."""

from __future__ import annotations

from hx.improve.cycle import ImprovementEngine
from hx.platform import Platform
from hx.runtime import Engine

KEY = "improve.engine"


def engine(platform: Platform) -> ImprovementEngine:
    existing = platform.extras.get(KEY)
    if isinstance(existing, ImprovementEngine):
        return existing
    eng = ImprovementEngine(platform)
    platform.extras[KEY] = eng
    platform.extras.setdefault("health_checks", {})["improvement"] = eng.health
    return eng


def engines(platform: Platform) -> list[Engine]:
    return [engine(platform)]

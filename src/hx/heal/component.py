"""The self-healing component: its engines and the engine object its API uses (built once per platform)."""

from __future__ import annotations

from hx.clock import WallClock
from hx.engine import Engine
from hx.heal.breach_trend import PredictiveEngine
from hx.heal.engine import HealEngine
from hx.heal.notifications import Escalator, build_notifiers
from hx.platform import Platform
from hx.telemetry.common import signal_step_s

KEY = "heal.engine"


def heal_engine(platform: Platform) -> HealEngine:
    """The self-healing engine of this platform (built once; notifiers from settings and the secret store)."""
    existing = platform.services.get(KEY, HealEngine)
    if existing is not None:
        return existing
    notifiers, problem = build_notifiers(platform)
    port = platform.settings.server.port or 8085
    base_url = platform.settings.server.url_of("self-healing", port)
    # on the wall clock the outbox delivers in a thread of its own; in simulated time at the end of each step
    threaded = isinstance(platform.clock, WallClock)
    escalator = Escalator(platform, notifiers, base_url=base_url, problem=problem, threaded=threaded)
    engine = HealEngine(
        platform,
        escalator,
        signal_step_s=signal_step_s(platform.settings),
        triage_delay_s=platform.settings.self_healing.triage_delay_s,
    )
    platform.services.put(KEY, engine)
    platform.health_checks["self_healing"] = engine.health
    return engine


def engines(platform: Platform) -> list[Engine]:
    engine = heal_engine(platform)
    step_s = engine.signal_step_s
    return [engine, PredictiveEngine(platform, engine.manager, step_s=step_s)]

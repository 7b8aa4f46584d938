"""A change hx's own action explains is annotated, not alerted: after hx scales a service in, its CPU and latency
rise; the detector publishes ``anomaly.explained`` naming the action for a bounded window, not ``anomaly.detected``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hx.clock import SimClock
from hx.config import load_settings
from hx.detect.engine import AnomalyEngine
from hx.events import AnomalyDetected, AnomalyExplained, ScalingActed
from hx.platform import Platform, build_platform
from hx.runtime import Runtime
from hx.sim import SimActuator, Simulation
from hx.wiring import SimEngine, build_world
from tests.detect.test_engine import START

SIGNALS = ["cpu_utilization", "latency_p95", "error_rate"]


def _world(home: Path, window_s: float = 900.0) -> tuple[Platform, SimClock, Simulation, Runtime]:
    overrides = {
        "sim.services": 2,
        "sim.step_s": 60.0,
        "sim.seed": 2,
        "intelligent_monitoring.anomaly_detection.signals": SIGNALS,
        "intelligent_monitoring.anomaly_detection.learn_history_s": 2 * 86400,
        "intelligent_monitoring.anomaly_detection.action_window_s": window_s,
    }
    settings = load_settings(environ={"HX_HOME": str(home)}, overrides=overrides).settings
    clock = SimClock(START - timedelta(days=2, hours=1))
    source, actuator, sim = build_world(settings, clock)
    assert sim is not None and source is not None
    sim.run_until(START)
    platform = build_platform(settings, clock=clock, source=source, actuator=actuator)
    runtime = Runtime(platform, [SimEngine(sim), AnomalyEngine(platform, source)])
    return platform, clock, sim, runtime


def _scale_in(platform: Platform, sim: Simulation, service: str, *, publish: bool) -> int:
    """Scale ``service`` down to one replica through the actuator, and (as the scaler does) publish scaling.acted."""
    before = int(sim.series(service, "desired_replicas")[1][-1])
    after = 1
    result = SimActuator(sim).scale(service, after)
    assert result.ok and before > after
    if publish:
        acted = ScalingActed(service=service, before=before, after=after, ok=True, reason=f"scale in to {after}")
        platform.bus.publish(acted, source="predictive-scaler", subject=service)
    return after


def test_a_scale_in_explains_the_rise_it_causes(tmp_path: Path) -> None:
    platform, clock, sim, runtime = _world(tmp_path)  # two quiet hours first: past the start's alert folding
    runtime.run_simulated(clock, START + timedelta(minutes=120), tick_s=60)
    target = sim.names[-1]
    _scale_in(platform, sim, target, publish=True)
    runtime.run_simulated(clock, START + timedelta(minutes=135), tick_s=60)
    detected = [e.data for e in platform.bus.read(types=[AnomalyDetected]) if e.subject == target]
    explained = [e.data for e in platform.bus.read(types=[AnomalyExplained]) if e.subject == target]
    assert detected == [], detected
    assert explained and {e["signal"] for e in explained} <= {"cpu_utilization", "latency_p95"}
    assert all("scale in" in e["explained_by"] for e in explained)
    assert len(explained) == len({e["signal"] for e in explained})  # one annotation per signal per action


def test_the_same_change_without_an_action_of_hx_is_alerted(tmp_path: Path) -> None:
    platform, clock, sim, runtime = _world(tmp_path)
    runtime.run_simulated(clock, START + timedelta(minutes=120), tick_s=60)
    target = sim.names[-1]
    _scale_in(platform, sim, target, publish=False)  # someone else scaled it in: hx did not
    runtime.run_simulated(clock, START + timedelta(minutes=135), tick_s=60)
    detected = [e.data for e in platform.bus.read(types=[AnomalyDetected]) if e.subject == target]
    assert detected and platform.bus.read(types=[AnomalyExplained]) == []

"""The anomaly-to-incident path: what the detector publishes reaches heal's alert row and the incident intact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hx.clock import SimClock
from hx.config import load_settings
from hx.detect.engine import AnomalyEngine
from hx.events import AnomalyDetected
from hx.heal.component import heal_engine
from hx.heal.records import AlertRepo
from hx.platform import build_platform
from hx.sim import Fault
from hx.wiring import build_world, embed_sim

START = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def test_detector_to_bus_to_heal_carries_the_observed_value_and_the_onset(tmp_path: Path) -> None:
    overrides = {
        "sim.services": 2,
        "sim.step_s": 60.0,
        "sim.seed": 2,
        "intelligent_monitoring.anomaly_detection.signals": ["error_rate"],
        "intelligent_monitoring.anomaly_detection.learn_history_s": 2 * 86400,
    }
    settings = load_settings(environ={"HX_HOME": str(tmp_path)}, overrides=overrides).settings
    clock = SimClock(START - timedelta(days=2, hours=1))
    source, actuator, sim = build_world(settings, clock)
    assert sim is not None and source is not None
    sim.run_until(START)
    clock.set(START)
    platform = build_platform(settings, clock=clock, source=source, actuator=actuator)
    embed_sim(platform, sim)
    detector, heal = AnomalyEngine(platform, source), heal_engine(platform)
    detector.step(START)  # warmed on the history, nothing to say yet
    target = sim.names[-1]
    sim.inject(Fault("error_spike", service=target, magnitude=0.2, duration_s=30 * 60))
    later = START + timedelta(minutes=20)
    sim.run_until(later)
    clock.set(later)
    detector.step(later)  # one step over 20 minutes of samples: the anomaly began before this publish time

    detected = [e for e in platform.bus.read(types=[AnomalyDetected]) if e.subject == target]
    assert detected, "the error spike was not detected"
    payload = detected[0].payload
    assert isinstance(payload, AnomalyDetected) and payload.at < detected[0].ts

    heal.catch_up_anomalies()
    row = next(r for r in AlertRepo(platform.store).unprocessed() if r.fingerprint == payload.anomaly_id)
    assert row.status == "firing" and row.service == target
    assert float(row.annotations["value"]) == payload.observed
    assert row.starts_at == payload.at

    heal.manager.process_pending(later)
    inc = next(i for i in heal.incidents.list(limit=10) if row.fingerprint in i.firing)
    note = next(
        n["detail"] for n in heal.incidents.timeline(inc.id) if n["detail"].get("fingerprint") == row.fingerprint
    )
    assert note["starts_at"] == payload.at.isoformat()
    assert float(note["annotations"]["value"]) == payload.observed

"""The streaming engine on the simulated fleet: a fault detected and explained, resolved after it heals,
missing data as its own state, state persisted across a restart."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from hx.clock import SimClock
from hx.config import load_settings
from hx.detect.engine import AnomalyEngine, list_anomalies
from hx.engine import STEP_DEADLINE
from hx.events import AnomalyDetected, AnomalyNoData, AnomalyResolved
from hx.platform import build_platform
from hx.runtime import Runtime
from hx.sim import Fault
from hx.wiring import SimEngine, build_world

START = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def _world(home: Path, seed: int = 2, detector: str = "ensemble"):  # type: ignore[no-untyped-def]
    overrides = {
        "intelligent_monitoring.anomaly_detection.detector": detector,
        "sim.services": 2,
        "sim.step_s": 60.0,
        "sim.seed": seed,
        "intelligent_monitoring.anomaly_detection.signals": ["error_rate", "latency_p95"],
        "intelligent_monitoring.anomaly_detection.learn_history_s": 2 * 86400,
    }
    settings = load_settings(environ={"HX_HOME": str(home)}, overrides=overrides).settings
    clock = SimClock(START - timedelta(days=2, hours=1))
    source, actuator, sim = build_world(settings, clock)
    assert sim is not None
    sim.run_until(START)
    platform = build_platform(settings, clock=clock, source=source, actuator=actuator)
    assert source is not None
    engine = AnomalyEngine(platform, source)
    runtime = Runtime(platform, [SimEngine(sim), engine])
    return platform, clock, sim, engine, runtime


def _step(engine: AnomalyEngine, now: datetime, time_left_s: float) -> None:
    """One step with ``time_left_s`` of the step's time left (<= 0: already up), as the runtime bounds it."""
    token = STEP_DEADLINE.set(time.monotonic() + time_left_s)
    try:
        engine.step(now)
    finally:
        STEP_DEADLINE.reset(token)


def test_fault_detected_explained_and_resolved(tmp_path: Path) -> None:
    platform, clock, sim, _engine, runtime = _world(tmp_path)
    target = sim.names[-1]
    runtime.run_simulated(clock, START + timedelta(minutes=30), tick_s=60)
    quiet = platform.bus.read(types=[AnomalyDetected])
    sim.inject(Fault("error_spike", service=target, magnitude=0.2, duration_s=15 * 60))
    runtime.run_simulated(clock, START + timedelta(minutes=75), tick_s=60)
    detected = [e for e in platform.bus.read(types=[AnomalyDetected]) if e.subject == target]
    assert quiet == [], [e.data for e in quiet]
    assert detected, "the error spike was not detected"
    d = detected[0].data
    assert d["signal"] == "error_rate" and d["score"] >= d["threshold"]
    assert d["observed"] > (d["expected_high"] or 0) and d["detectors"]
    resolved = [e for e in platform.bus.read(types=[AnomalyResolved]) if e.subject == target]
    assert [e.data["anomaly_id"] for e in resolved] == [d["anomaly_id"]]
    rows = list_anomalies(platform, service=target, state="resolved")
    assert rows and rows[0]["resolved_at"] is not None


def test_the_resonance_member_behind_the_setting_keeps_the_evidence_true(tmp_path: Path) -> None:
    platform, clock, sim, _engine, runtime = _world(tmp_path, detector="ensemble_resonance")
    target = sim.names[-1]
    runtime.run_simulated(clock, START + timedelta(minutes=30), tick_s=60)
    sim.inject(Fault("error_spike", service=target, magnitude=0.2, duration_s=15 * 60))
    runtime.run_simulated(clock, START + timedelta(minutes=75), tick_s=60)
    detected = [e for e in platform.bus.read(types=[AnomalyDetected]) if e.subject == target]
    assert detected, "the error spike was not detected"
    d = detected[0].data
    assert "resonance" in d["components"], d["components"]  # the member's own score is part of the evidence
    assert all(d["components"][k] >= d["threshold"] for k in d["detectors"])
    assert d["observed"] > (d["expected_high"] or 0)


def test_missing_data_is_its_own_state(tmp_path: Path) -> None:
    platform, clock, _sim, engine, runtime = _world(tmp_path)
    runtime.run_simulated(clock, START + timedelta(minutes=10), tick_s=60)
    # the source stops answering for one service: its points are gaps, never scored as normal or anomalous
    sim_engine = runtime.engines[0]
    runtime.engines.remove(sim_engine)  # the fleet stops reporting
    runtime.status.pop(sim_engine.name)
    runtime.run_simulated(clock, START + timedelta(minutes=30), tick_s=60)
    no_data = platform.bus.read(types=[AnomalyNoData])
    assert no_data and all(isinstance(e.payload, AnomalyNoData) for e in no_data)
    assert platform.bus.read(types=[AnomalyDetected]) == []
    assert engine.health()["no_data"] >= 1


def test_state_survives_a_restart_without_new_warmup(tmp_path: Path) -> None:
    platform, clock, _sim, engine, runtime = _world(tmp_path)
    runtime.run_simulated(clock, START + timedelta(minutes=20), tick_s=60)
    engine.save(clock.now())
    again = AnomalyEngine(platform, engine.source)
    again._load()
    assert set(again.tracks) == set(engine.tracks)
    for key, t in engine.tracks.items():
        u = again.tracks[key]
        assert u.cursor == t.cursor and u.learned == t.learned
        x, ts = 0.01, t.cursor + 60
        assert u.detector.score_one(x, ts) == t.detector.score_one(x, ts)


def test_the_ensemble_folds_at_the_engines_threshold_after_a_restart_too(tmp_path: Path) -> None:
    """With sensitivity low the engine alerts at 0.8 + the shift; folding at 0.8 would halve an incident's scores
    on their way past 0.8 and hide it from a higher threshold."""
    from hx.detect.ensemble import Ensemble

    platform, clock, _sim, engine, runtime = _world(tmp_path)
    engine.threshold = 0.87
    runtime.run_simulated(clock, START + timedelta(minutes=10), tick_s=60)
    assert engine.tracks and all(
        isinstance(t.detector, Ensemble) and t.detector.alert_threshold == 0.87 for t in engine.tracks.values()
    )
    engine.save(clock.now())
    again = AnomalyEngine(platform, engine.source)
    again.threshold = 0.9
    again._load()
    assert again.tracks and all(t.detector.alert_threshold == 0.9 for t in again.tracks.values())  # type: ignore[attr-defined]


def test_ad_hoc_scoring_folds_at_the_threshold_it_is_cut_at() -> None:
    from hx.detect.engine import score_series
    from hx.detect.ensemble import Ensemble

    rng = np.random.default_rng(3)
    v = rng.normal(0, 1, 1200)
    v[1000:1010] = 9.0
    t = 1_600_000_000 + np.arange(v.size) * 60.0
    at_05 = score_series(v, t, "ensemble", 0.5)
    assert np.array_equal(at_05, Ensemble(alert_threshold=0.5).process(v, t))
    assert not np.array_equal(at_05, Ensemble().process(v, t))  # the fold moved with the threshold
    assert np.array_equal(score_series(v, t, "ensemble"), Ensemble().process(v, t))
    # a detector parameter given explicitly wins
    assert np.array_equal(score_series(v, t, "ensemble", 0.5, {"alert_threshold": 0.8}), Ensemble().process(v, t))


def test_a_first_step_out_of_time_warms_the_rest_of_its_signals_at_the_next_steps(tmp_path: Path) -> None:
    _platform, clock, sim, engine, _runtime = _world(tmp_path)
    total = len(sim.names) * 2
    _step(engine, clock.now(), -1.0)  # the step's time is already up: one signal, then stop
    assert len(engine.tracks) == 1
    waiting = engine.learning(clock.now())
    assert waiting is not None and waiting.details == {"signals_warmed": 1, "signals_waiting": total - 1}
    assert engine.health()["status"] == "learning"
    engine.step(clock.advance(60))  # outside a step's bound: every signal left
    assert len(engine.tracks) == total
    after = engine.learning(clock.now())
    assert after is None or "warming" not in after.waits_for


def test_a_signal_warmed_steps_late_scores_a_fault_that_began_after_the_first_step(tmp_path: Path) -> None:
    platform, clock, sim, engine, _runtime = _world(tmp_path)
    target = sim.names[-1]
    sim.inject(Fault("error_spike", service=target, magnitude=0.2, duration_s=15 * 60))
    for minute in range(8):  # 3 steps out of time warm one signal each: the target's error rate third, in the spike
        _step(engine, clock.now(), -1.0 if minute < 3 else 60.0)
        if minute == 1:
            assert not any(k.startswith(f"{target}/") for k in engine.tracks)
        sim.run_until(clock.advance(60))
    # its history ends where the first step's did: the spike is scored, not learned as its normal
    detected = [e for e in platform.bus.read(types=[AnomalyDetected]) if e.subject == target]
    assert [e.data["signal"] for e in detected] == ["error_rate"]


def test_a_restart_mid_warm_up_warms_the_rest_to_where_the_first_step_ended(tmp_path: Path) -> None:
    platform, clock, sim, engine, _runtime = _world(tmp_path)
    target = sim.names[-1]
    sim.inject(Fault("error_spike", service=target, magnitude=0.2, duration_s=15 * 60))
    for minute in range(8):  # out of time at the first 2 steps; the process restarts after the second
        _step(engine, clock.now(), -1.0 if minute < 2 else 60.0)
        if minute == 1:
            assert not any(k.startswith(f"{target}/") for k in engine.tracks)
            engine.save(clock.now())
            engine = AnomalyEngine(platform, engine.source)  # the new process loads the saved tracks
        sim.run_until(clock.advance(60))
    detected = [e for e in platform.bus.read(types=[AnomalyDetected]) if e.subject == target]
    assert [e.data["signal"] for e in detected] == ["error_rate"]


def test_a_signal_the_source_has_not_got_does_not_use_up_a_late_steps_one_warm_up(tmp_path: Path) -> None:
    from hx.errors import NotFound

    _platform, clock, sim, engine, _runtime = _world(tmp_path)
    real = engine.source.signal

    def missing_first(service: str, signal: str, *args: object, **kwargs: object) -> object:
        if (service, signal) == (sim.names[0], "error_rate"):
            raise NotFound(f"no {signal} for {service}")
        return real(service, signal, *args, **kwargs)

    engine.source.signal = missing_first
    _step(engine, clock.now(), -1.0)
    assert len(engine.tracks) == 1  # the missing one is passed over, a real one warmed
    _step(engine, clock.advance(60), -1.0)
    assert len(engine.tracks) == 2
    waiting = engine.learning(clock.now())
    assert waiting is not None and "warming" in waiting.waits_for


def test_the_range_published_for_an_error_rate_does_not_reach_below_0(tmp_path: Path) -> None:
    # the demo showed "expected -0.0009047 .. 0.003811" for an error rate: the detector's band around a rate near 0
    platform, clock, _sim, engine, runtime = _world(tmp_path)
    runtime.run_simulated(clock, START + timedelta(minutes=5), tick_s=60)
    track = next(t for t in engine.tracks.values() if t.signal == "error_rate")
    band = {"expected_low": -0.0009, "expected_high": 0.0038, "components": {"novelty": 1.0}}
    engine._open(track, START.timestamp(), 0.09, 1.0, band)
    d = platform.bus.read(types=[AnomalyDetected])[-1].data
    assert (d["expected_low"], d["expected_high"]) == (0.0, 0.0038)
    assert track.normal_low == -0.0009  # when it clears is judged on the detector's own band, as before

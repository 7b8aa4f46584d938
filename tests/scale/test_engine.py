"""The predictive scaler on a small simulated fleet with a predictable daily ramp."""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from hx.clock import SimClock
from hx.config import load_settings
from hx.errors import BadInput
from hx.events import ScalingActed, ScalingDecided
from hx.forecast.series import forecast_series
from hx.platform import Platform, build_platform
from hx.runtime import Runtime
from hx.scale.component import engines, profiles_for
from hx.scale.engine import PredictiveScaler
from hx.scale.scaler import ScalerConfig, ServiceProfile, ServiceScaler
from hx.sim import SimActuator, SimSource, Simulation
from hx.sim.spec import SLO, FleetSpec, ServiceSpec
from hx.sim.traces import TrafficShape
from hx.wiring import SimEngine, embed_sim

DAY = 86400.0
#: the fourth day of the fleet; the ramp starts at 10:00 UTC every day
RUN_DAY = datetime(2026, 1, 8, tzinfo=UTC)
RAMP_AT = RUN_DAY + timedelta(hours=10)


def daily_shape() -> TrafficShape:
    """1x at night, a 20-minute ramp to 3x at 10:00, back down at 14:00 (5-minute levels, UTC days)."""
    t = np.arange(0.0, DAY, 300.0)
    hour = t / 3600.0
    up = np.clip((hour - 10.0) / (20 / 60), 0.0, 1.0)
    down = np.clip((hour - 14.0) / 0.5, 0.0, 1.0)
    return TrafficShape(1.0 + 2.0 * up * (1.0 - down), 300.0, origin=-150.0, name="ramp")


def fleet() -> FleetSpec:
    svc = ServiceSpec("shop", capacity_rps=50.0, replicas=3, base_rate_rps=100.0, startup_s=120.0,
                      slo=SLO(latency_p99_s=0.6, error_rate=0.01))  # fmt: skip
    return FleetSpec((svc,), shape=daily_shape(), nodes=2, seed=3, poisson=False)


@dataclass
class World:
    platform: Platform
    clock: SimClock
    sim: Simulation
    runtime: Runtime
    scaler: PredictiveScaler

    def run_to(self, when: datetime) -> None:
        self.runtime.run_simulated(self.clock, when, tick_s=60.0)


_BASE: list[Simulation] = []


def history_sim(poisson: bool) -> Simulation:
    """Two days and nine hours of history, simulated once per test session and copied for each test;
    with ``poisson`` the live part is noisy (Poisson counts and slow random swings)."""
    if not _BASE:
        sim = Simulation(fleet(), clock=SimClock(RUN_DAY - timedelta(days=2)), step_s=60.0)
        sim.run_until(RUN_DAY + timedelta(hours=9))
        _BASE.append(sim)
    sim = copy.deepcopy(_BASE[0])
    if poisson:
        sim.spec = replace(sim.spec, poisson=True)
        sim.shape = replace(sim.shape, sigma=0.3)  # plus slow lognormal swings of ~15 %
    return sim


def make_world(home: Path, *, mode: str = "act", poisson: bool = False, **cfg: object) -> World:
    settings = load_settings(environ={"HX_HOME": str(home)}).settings
    sim = history_sim(poisson)
    clock = sim.clock
    platform = build_platform(settings, clock=clock, source=SimSource(sim), actuator=SimActuator(sim))
    embed_sim(platform, sim)
    config = ScalerConfig(forecaster="seasonal_naive", **cfg)  # type: ignore[arg-type]
    assert platform.source is not None and platform.actuator is not None
    scaler = PredictiveScaler(
        platform, platform.source, platform.actuator, profiles_for(platform, platform.source), config=config, mode=mode
    )
    runtime = Runtime(platform, [SimEngine(sim), scaler])
    return World(platform, clock, sim, runtime, scaler)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path / "hx")
    yield w
    w.platform.store.dispose()


def acted(w: World) -> list[dict[str, object]]:
    return [dict(e.data) for e in w.platform.bus.read(types=[ScalingActed], limit=1000)]


def test_scales_out_before_the_ramp_and_meets_the_slo(world: World) -> None:
    world.run_to(RAMP_AT + timedelta(hours=1))
    ups = [e for e in world.platform.bus.read(types=[ScalingActed], limit=1000) if e.data["after"] > e.data["before"]]
    assert ups, "the scaler never scaled out"
    assert ups[0].ts < RAMP_AT and "forecast" in ups[0].data["reason"]  # before the ramp, from the forecast
    # ready capacity kept ahead of the demand all through the ramp (the SLO breaks above ~84 % utilisation)
    _, ready = world.sim.series("shop", "ready_replicas", t_from=(RAMP_AT - timedelta(hours=1)).timestamp())
    _, rate = world.sim.series("shop", "request_rate", t_from=(RAMP_AT - timedelta(hours=1)).timestamp())
    assert np.all(rate <= 0.8 * 50.0 * ready)
    _t, slo = world.sim.series("shop", "slo_violation", t_from=(RAMP_AT - timedelta(hours=1)).timestamp())
    assert float(np.sum(slo)) == 0.0
    d = next(e for e in world.platform.bus.read(types=[ScalingDecided], limit=1000) if e.data["replicas"] >= 8)
    assert "forecast" in d.data["reason"] and d.data["forecast"]["model"] == "seasonal_naive"
    assert d.data["forecast"]["quantile_max"] >= 290.0


def test_every_action_is_an_event_and_an_audit_record(world: World) -> None:
    world.run_to(RAMP_AT + timedelta(minutes=30))
    events = acted(world)
    audit = [r for r in world.platform.audit.records(limit=1000) if r.action == "scale"]
    assert events and len(audit) == len(events)
    assert [(r.target, r.detail["after"]) for r in audit] == [("shop", e["after"]) for e in events]
    assert all(r.actor == "predictive-scaler" and r.outcome == "ok" for r in audit)
    assert world.platform.audit.verify().ok


def test_recommend_mode_does_not_act(tmp_path: Path) -> None:
    w = make_world(tmp_path / "hx", mode="recommend")
    w.run_to(RAMP_AT + timedelta(minutes=30))
    assert acted(w) == []
    assert [r for r in w.platform.audit.records(limit=1000) if r.action == "scale"] == []
    _, desired = w.sim.series("shop", "desired_replicas")
    assert set(desired.tolist()) == {3.0}
    recs = w.scaler.recommendations()
    assert recs and recs[0]["mode"] == "recommend" and recs[0]["replicas"] >= 8
    assert any(e.data["replicas"] >= 8 for e in w.platform.bus.read(types=[ScalingDecided], limit=1000))
    w.platform.store.dispose()


def test_min_and_max_bounds(tmp_path: Path) -> None:
    w = make_world(tmp_path / "hx", min_replicas=4, max_replicas=6)
    w.run_to(RAMP_AT + timedelta(minutes=40))
    _, desired = w.sim.series("shop", "desired_replicas", t_from=(RUN_DAY + timedelta(hours=9, minutes=2)).timestamp())
    assert desired.min() >= 4 and desired.max() <= 6
    assert desired.max() == 6  # the ramp needs 8: held at the maximum
    w.platform.store.dispose()


def test_no_flapping_under_noisy_load(tmp_path: Path) -> None:
    w = make_world(tmp_path / "hx", poisson=True)
    w.run_to(RAMP_AT + timedelta(hours=4, minutes=45))
    moves = [(e.ts, 1 if e.data["after"] > e.data["before"] else -1)
             for e in w.platform.bus.read(types=[ScalingActed], limit=1000)]  # fmt: skip
    assert any(d > 0 for _, d in moves) and any(d < 0 for _, d in moves)
    for (t1, d1), (t2, d2) in itertools.pairwise(moves):
        if d1 > 0 and d2 < 0:  # a scale-in only once the lower need held for the whole window
            assert t2 - t1 >= timedelta(seconds=w.scaler.config.scale_in_window_s), (t1, t2)
    _, reps = w.sim.series("shop", "desired_replicas", t_from=(RAMP_AT - timedelta(hours=1)).timestamp())
    assert len(moves) <= 0.15 * reps.size  # far fewer changes than decisions (one a minute)
    w.platform.store.dispose()


def test_a_service_without_capacity_is_reported_once_and_left_alone(tmp_path: Path) -> None:
    w = make_world(tmp_path / "hx")
    w.scaler.profiles = lambda service: None
    w.run_to(RUN_DAY + timedelta(hours=9, minutes=10))
    decided = w.platform.bus.read(types=[ScalingDecided], limit=100)
    assert len(decided) == 1 and "capacity" in decided[0].data["reason"]
    assert acted(w) == [] and w.scaler.health()["unscalable"] == ["shop"]
    w.platform.store.dispose()


def test_a_service_whose_capacity_becomes_known_later_is_scaled_then(tmp_path: Path) -> None:
    """A fleet hx starts with has no history to estimate a capacity from: the profile is looked up again."""
    w = make_world(tmp_path / "hx")
    real = w.scaler.profiles
    calls: list[str] = []

    def late(service: str) -> ServiceProfile | None:
        calls.append(service)
        return None if len(calls) < 3 else real(service)

    w.scaler.profiles = late
    w.run_to(RUN_DAY + timedelta(hours=9, minutes=10))
    decided = w.platform.bus.read(types=[ScalingDecided], limit=100)
    assert sum("capacity" in str(e.data.get("reason")) for e in decided) == 1  # reported once, not at each retry
    assert len(calls) >= 3 and w.scaler.health()["unscalable"] == []
    w.platform.store.dispose()


def test_component_builds_one_engine_with_sim_profiles(tmp_path: Path) -> None:
    w = make_world(tmp_path / "hx")
    built = engines(w.platform)
    assert len(built) == 1 and built == engines(w.platform)
    prof = profiles_for(w.platform, w.platform.source)("shop")  # type: ignore[arg-type]
    assert prof == ServiceProfile(50.0, 120.0, origin="sim")
    w.platform.store.dispose()


# ---- the pure scaler on bad input ------------------------------------------------------------------


def _history(days: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    t = RUN_DAY.timestamp() - days * DAY + np.arange(0.0, days * DAY, 300.0)
    return t, 200.0 + 100.0 * np.sin(2 * np.pi * t / DAY)


@pytest.mark.parametrize("model", ["seasonal_naive", "holt_winters"])
def test_bad_history_never_gives_a_bad_count(model: str) -> None:
    t, y = _history()
    rng = np.random.default_rng(0)
    y = y.copy()
    y[100:160] = np.nan  # a gap
    y[300:320] = 0.0  # zeros
    y[500] = 1e7  # a spike
    y[600] = -5.0  # impossible
    y[700] = np.inf
    order = rng.permutation(t.size)  # non-monotonic time
    s = ServiceScaler(ServiceProfile(50.0, 120.0), ScalerConfig(forecaster=model, min_replicas=1, max_replicas=40))
    s.observe(t[order], y[order])
    assert np.all(np.diff(s.ts) > 0)
    for now_off, demand in ((0.0, 250.0), (60.0, math.nan), (120.0, -3.0), (180.0, 0.0)):
        d = s.decide(float(t[-1]) + now_off, 5, demand)
        assert isinstance(d.replicas, int) and 1 <= d.replicas <= 40


def test_horizon_longer_than_history_is_cut_and_said() -> None:
    t, y = _history(days=0.5)
    s = ServiceScaler(ServiceProfile(50.0), ScalerConfig(forecaster="naive", prediction_horizon_s=DAY))
    s.observe(t, y)
    d = s.decide(float(t[-1]), 3, 200.0)
    assert "horizon cut" in d.reason and d.forecast is not None and len(d.forecast) == t.size


def test_too_little_history_falls_back_to_the_current_load() -> None:
    s = ServiceScaler(ServiceProfile(50.0), ScalerConfig(forecaster="holt_winters"))
    s.observe([0.0, 300.0], [100.0, 120.0])
    d = s.decide(300.0, 1, 120.0)
    assert d.forecast is None and d.replicas == 4 and "no forecast" in d.reason  # 120 / (50 x 0.7) -> 4


def test_no_capacity_is_bad_input() -> None:
    with pytest.raises(BadInput, match="capacity"):
        ServiceScaler(ServiceProfile(None))
    with pytest.raises(BadInput, match="capacity"):
        ServiceScaler(ServiceProfile(0.0))


def test_forecast_series_band_and_errors() -> None:
    t, y = _history()
    fc = forecast_series(t, y, 3600.0, model="seasonal_naive")
    assert len(fc) == 12 and np.all(fc.lower <= fc.mean) and np.all(fc.mean <= fc.upper)
    with pytest.raises(BadInput):
        forecast_series(t, y, -1.0)
    with pytest.raises(BadInput):
        forecast_series(t[:10], y[:10], 30 * DAY, model="seasonal_naive")


def test_demand_window_smooths_the_reactive_need() -> None:
    t, _ = _history()
    plain = ServiceScaler(ServiceProfile(50.0), ScalerConfig(forecaster="naive"))
    smooth = ServiceScaler(ServiceProfile(50.0), ScalerConfig(forecaster="naive", demand_window_s=180.0))
    for s in (plain, smooth):
        s.observe(t, np.full(t.size, 100.0))
    now = float(t[-1])
    for k, demand in enumerate([100.0, 100.0, 700.0]):  # a one-minute spike
        a = plain.decide(now + 60 * k, 3, demand)
        b = smooth.decide(now + 60 * k, 3, demand)
    assert a.reactive_replicas == 20 and b.reactive_replicas == 9  # 700 / 35 vs mean 300 / 35


def test_calibrated_mode_is_off_by_default_and_switched_on_by_alpha() -> None:
    assert ScalerConfig().calibration_alpha is None and ScalerConfig().scaling_buffer == 0.2
    assert ServiceScaler(ServiceProfile(50.0)).policy.calibration is None
    t, y = _history()
    s = ServiceScaler(ServiceProfile(50.0, 120.0), ScalerConfig(forecaster="seasonal_naive", calibration_alpha=0.05))
    assert s.policy.calibration is not None and s.policy.calibration.lead_s == 120.0
    s.observe(t, y)
    now, rng = float(t[-1]), np.random.default_rng(2)
    for k in range(120):
        d = s.decide(now + 60.0 * k, 8, float(rng.poisson(250.0)) if k % 17 else math.nan)
        assert isinstance(d.replicas, int) and 1 <= d.replicas <= 100
    assert "calibrated bound" in d.reason or "hold" in d.reason


def test_calibrated_mode_is_switched_on_from_the_settings() -> None:
    from hx.config import load_settings
    from hx.scale.scaler import ScalerConfig

    s = load_settings(environ={}, overrides={"intelligent_monitoring.scaling.calibration_alpha": 0.05})
    cfg = ScalerConfig.from_settings(s.settings.intelligent_monitoring.scaling)
    assert cfg.calibration_alpha == 0.05 and cfg.max_utilization == 0.8
    assert ScalerConfig.from_settings(load_settings(environ={}).settings.intelligent_monitoring.scaling
                                      ).calibration_alpha is None  # fmt: skip


def test_an_action_done_from_another_count_is_recorded_as_done_and_warned_only_when_the_target_is_missed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The replica signal lags the fleet: the actuator's own before/after are recorded, with a verb that matches
    them; a warning only when the fleet did not end at the scaler's target."""
    from hx.scale.engine import _as_done

    asked = {"before": 3, "after": 2, "reason": "scale in 3 -> 2 (forecast)"}
    with caplog.at_level("INFO", logger="hx.scale.engine"):
        done = _as_done("auth", asked, {"before": 2, "after": 2})
        assert done["reason"].startswith("no change 2 -> 2 (decided on 3 replicas") and done["before"] == 2
        assert [r.levelname for r in caplog.records] == ["INFO"]
        caplog.clear()
        missed = _as_done("auth", asked, {"before": 3, "after": 3})  # the actuator left it where it was
        assert missed["after"] == 3 and [r.levelname for r in caplog.records] == ["WARNING"]
        caplog.clear()
        assert _as_done("auth", asked, {"before": 3, "after": 2}) == asked and not caplog.records

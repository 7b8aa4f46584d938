"""The calibrated alpha chosen by the scaler itself: the rule, the what-if, and the engine's schedule."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from hx.clock import SimClock
from hx.config import load_settings
from hx.errors import BadInput, ConfigError
from hx.events import ScalingAlphaChosen
from hx.platform import build_platform
from hx.scale.alpha import (
    ALPHAS,
    Demand,
    _score,
    auto_alpha,
    choose_alpha,
    demand_for,
    forecasts_for,
    whatif_calibrated,
    whatif_hpa,
)
from hx.scale.engine import PredictiveScaler
from hx.scale.scaler import DEFAULT_ALPHA, ScalerConfig, ServiceProfile, ServiceScaler
from hx.telemetry.replay import ReplaySource

DAY = 86400.0
GRID = 300.0
PROFILE = ServiceProfile(50.0, 120.0)
#: the benchmark's calibrated settings, with a fast forecaster
CONFIG = ScalerConfig(forecaster="seasonal_naive", max_utilization=0.8, target_utilization=0.8,
                      demand_window_s=120.0, scale_in_window_s=120.0, scale_in_step=1.0, refit_s=DAY)  # fmt: skip
START = 1_767_225_600.0  # 2026-01-01 UTC


def history(days: float, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """5-minute means (bucket-end stamps) of a daily wave between 100 and 700 req/s with 8 % noise."""
    t = START + GRID * np.arange(1, int(days * DAY / GRID) + 1)
    wave = 400.0 - 300.0 * np.cos(2 * np.pi * t / DAY)
    return t, wave * (1.0 + 0.08 * np.random.default_rng(seed).standard_normal(t.size))


def test_choose_alpha_lives_in_the_scaler_and_the_lab_uses_it() -> None:
    from hx.lab import scaling_replay

    assert scaling_replay.choose_alpha is choose_alpha
    table = {0.01: (0.0, 120.0), 0.05: (1.0, 97.0), 0.1: (9.0, 90.0)}
    assert choose_alpha(list(table), table.__getitem__, (10.0, 100.0)) == 0.05
    with pytest.raises(BadInput):
        choose_alpha([], table.__getitem__, (10.0, 100.0))


def test_score_counts_minutes_short_of_ready_replicas_and_the_startup_lag() -> None:
    minutes = (START + 60.0 * np.arange(1, 11)).astype(np.float64)
    demand = np.full(10, 100.0)
    demand[4:] = 400.0  # 3 replicas serve 127.5 at 85 %; 10 serve 425
    d = Demand(np.zeros(0), np.zeros(0), GRID, START, START, minutes, demand)
    desired = np.array([3, 3, 3, 3, 10, 10, 10, 10, 10, 10], dtype=np.float64)
    w = _score(d, desired, 50.0, 120.0, 0.85)
    assert w.slo_violation_minutes == 2.0  # minutes 5 and 6: the 7 new replicas are still starting
    assert w.replica_hours == pytest.approx(desired.sum() / 60.0) and w.actions == 1
    instant = _score(d, desired, 50.0, 0.0, 0.85)
    assert instant.slo_violation_minutes == 0.0


def test_demand_for_needs_a_day_to_fit_and_the_warmup_before_the_days() -> None:
    t, v = history(3.0)
    d = demand_for(t, v, GRID, 1.0, DAY)
    assert d.start == pytest.approx(t[-1] - DAY) and d.begin == pytest.approx(d.start - DAY)
    assert int(d.judged.sum()) == 1440 and np.isfinite(d.demand).all()
    with pytest.raises(BadInput, match="needs 3 days of history"):
        demand_for(t[-600:], v[-600:], GRID, 1.0, DAY)


def test_the_whatif_replays_the_demand_seen_each_minute_where_it_has_it() -> None:
    t, v = history(3.0)
    minutes = START + 60.0 * np.arange(1, int(3 * DAY / 60.0) + 1)
    wave = np.interp(minutes, t - GRID / 2, v)
    noisy = np.maximum(wave * (1.0 + 0.3 * np.random.default_rng(7).standard_normal(minutes.size)), 0.0)
    smooth = demand_for(t, v, GRID, 1.0, DAY)
    seen = demand_for(t, v, GRID, 1.0, DAY, seen=(minutes - 20.0, noisy))
    assert smooth.seen_minutes == 0 and seen.seen_minutes == seen.minutes.size
    np.testing.assert_allclose(seen.demand, np.interp(seen.minutes, minutes, noisy))  # the latest in each minute
    # minute-to-minute swings the 5-minute means hide cost HPA's reacting loop violations
    assert whatif_hpa(seen, PROFILE).slo_violation_minutes > 3 * whatif_hpa(smooth, PROFILE).slo_violation_minutes
    # where the seen demand stops, the 5-minute means take over, and the choice says on what it was made
    half = minutes < seen.start + DAY / 2
    part = demand_for(t, v, GRID, 1.0, DAY, seen=(minutes[half], noisy[half]))
    assert 0 < part.seen_minutes < part.minutes.size
    c = auto_alpha(t, v, PROFILE, CONFIG, seen=(minutes[half], noisy[half]))
    assert "what-if on the demand seen each minute (" in c.reason and "the rest 5-minute means" in c.reason
    assert "what-if on 5-minute means" in auto_alpha(t, v, PROFILE, CONFIG).reason
    with pytest.raises(BadInput, match="seen demand"):
        demand_for(t, v, GRID, 1.0, DAY, seen=(minutes, noisy[:-1]))


def test_the_scaler_keeps_the_demand_it_decided_on_for_the_whatif_days() -> None:
    s = ServiceScaler(PROFILE, replace(CONFIG, alpha_days=1.0))
    for k, demand in enumerate([100.0, math.nan, -1.0, 120.0]):
        s.decide_on(START + 60.0 * k, 3, demand, None)
    t, v = s.seen()
    assert t.tolist() == [START, START + 180.0] and v.tolist() == [100.0, 120.0]  # gaps are not demand
    s.decide_on(START + 3 * DAY + 200.0, 3, 90.0, None)  # beyond alpha_days + 2 days: the old ones go
    assert s.seen()[1].tolist() == [90.0]


@pytest.fixture(scope="module")
def whatif() -> tuple[Demand, list[object]]:
    t, v = history(3.0)
    d = demand_for(t, v, GRID, 1.0, DAY)
    return d, forecasts_for(d, PROFILE, CONFIG)  # type: ignore[return-value]


def test_the_whatif_is_causal_and_ordered_by_alpha(whatif: tuple[Demand, list[object]]) -> None:
    d, fcs = whatif
    runs = [whatif_calibrated(d, PROFILE, a, CONFIG, forecasts=fcs) for a in (0.001, 0.05, 0.3)]  # type: ignore[arg-type]
    hours = [r.replica_hours for r in runs]
    assert hours[0] > hours[1] > hours[2], hours  # a larger alpha is a tighter bound: cheaper
    assert runs[0].slo_violation_minutes <= runs[2].slo_violation_minutes
    # the same as the engine's own scaler computing its forecasts itself
    again = whatif_calibrated(d, PROFILE, 0.05, CONFIG)
    assert again == runs[1]
    # no look-ahead: history changed after minute ``cut`` changes no forecast made before it, and later ones
    cut = d.minutes.size - 720
    late = Demand(np.array(d.ts), np.where(d.ts > d.minutes[cut], 5 * d.rps, d.rps), d.grid_s, d.begin, d.start,
                  d.minutes, d.demand)  # fmt: skip
    naive = replace(CONFIG, forecaster="naive")
    means = [None if f is None else float(f.mean[0]) for f in forecasts_for(d, PROFILE, naive)]
    late_means = [None if f is None else float(f.mean[0]) for f in forecasts_for(late, PROFILE, naive)]
    assert means[: cut + 1] == late_means[: cut + 1] and means[cut + 10 :] != late_means[cut + 10 :]


def test_hpa_whatif_scales_with_the_wave(whatif: tuple[Demand, list[object]]) -> None:
    d, _ = whatif
    h = whatif_hpa(d, PROFILE)
    # 24 h of a wave whose mean is 400 req/s at 70 % of 50 req/s: about 11.4 replicas on average
    assert 230 < h.replica_hours < 330 and h.actions > 20


def test_auto_alpha_chooses_from_the_history_by_the_rule() -> None:
    t, v = history(3.0)
    c = auto_alpha(t, v, PROFILE, CONFIG, days=7.0)
    assert c.chosen and c.alpha in ALPHAS and c.hpa is not None and c.alpha in c.tried
    assert "on the last 1 day " in c.reason and c.window is not None
    assert choose_alpha(list(c.tried), c.tried.__getitem__, c.hpa) == c.alpha
    js = c.to_dict()
    assert js["alpha"] == c.alpha and js["tried"] and js["hpa"]["replica_hours"] > 0


def test_too_little_history_keeps_the_previous_or_the_default_and_says_so() -> None:
    t, v = history(2.5)
    c = auto_alpha(t, v, PROFILE, CONFIG)
    assert (c.alpha, c.chosen) == (DEFAULT_ALPHA, False) and "conservative default" in c.reason
    c = auto_alpha(t, v, PROFILE, CONFIG, previous=0.07)
    assert (c.alpha, c.chosen) == (0.07, False) and "previous choice" in c.reason
    assert "needs 3" in c.reason


def test_auto_is_calibrated_modes_default_and_settings_name_the_key() -> None:
    def scaling(**kv: object) -> ScalerConfig:
        o = {f"intelligent_monitoring.scaling.{k}": v for k, v in kv.items()}
        settings = load_settings(environ={}, overrides=o).settings
        return ScalerConfig.from_settings(settings.intelligent_monitoring.scaling)

    assert scaling().calibration_alpha is None
    assert scaling(calibrated=True).calibration_alpha == "auto"
    assert scaling(calibration_alpha="auto").calibration_alpha == "auto"
    assert scaling(calibrated=True, calibration_alpha=0.05).calibration_alpha == 0.05
    assert scaling(alpha_refresh_s=3600).alpha_refresh_s == 3600.0
    for bad in ("often", 0.7):
        with pytest.raises(ConfigError, match="calibration_alpha"):
            scaling(calibration_alpha=bad)
    with pytest.raises(ConfigError, match="alpha_days"):
        scaling(alpha_days=0)
    s = ServiceScaler(PROFILE, ScalerConfig(calibration_alpha="auto"))
    assert s.alpha == DEFAULT_ALPHA
    s.set_alpha(0.05)
    assert s.alpha == 0.05
    with pytest.raises(BadInput):
        ServiceScaler(PROFILE).set_alpha(0.05)


def write_history(path: Path, days: float) -> datetime:
    """A wide CSV of one service (request_rate and replicas each minute); returns its end."""
    t = START + 60.0 * np.arange(1, int(days * DAY / 60.0) + 1)
    rate = 400.0 - 300.0 * np.cos(2 * np.pi * t / DAY)
    rows = "\n".join(f"{x:.0f},{r:.3f},10" for x, r in zip(t, rate, strict=True))
    path.write_text("timestamp,request_rate,replicas\n" + rows + "\n")
    return datetime.fromtimestamp(float(t[-1]), UTC)


def engine(tmp_path: Path, days: float, refresh_s: float = DAY) -> tuple[PredictiveScaler, SimClock]:
    end = write_history(tmp_path / "shop.csv", days)
    settings = load_settings(environ={"HX_HOME": str(tmp_path / "hx")}).settings
    clock = SimClock(end)
    source = ReplaySource([tmp_path / "shop.csv"])
    platform = build_platform(settings, clock=clock, source=source)
    cfg = replace(CONFIG, calibration_alpha="auto", alpha_days=1.0, alpha_refresh_s=refresh_s)
    eng = PredictiveScaler(platform, source, None, lambda s: PROFILE, config=cfg, mode="recommend")
    return eng, clock


def alpha_events(eng: PredictiveScaler) -> list[dict[str, object]]:
    return [dict(e.data) for e in eng.platform.bus.read(types=[ScalingAlphaChosen], limit=100)]


def test_the_engine_chooses_each_services_alpha_on_a_schedule_and_shows_it(tmp_path: Path) -> None:
    eng, clock = engine(tmp_path, 3.2)
    try:
        now = clock.now()
        eng.step(now)
        (ev,) = alpha_events(eng)
        assert ev["service"] == "shop" and ev["chosen"] is True and ev["alpha"] in ALPHAS
        assert str(ev["reason"]).startswith(f"chose {ev['alpha']:g}") and ev["tried"]
        # the source has the request rate each minute: the what-if replays it, not the 5-minute means
        assert "what-if on the demand seen each minute)" in str(ev["reason"])
        scaler = eng.tracks["shop"].scaler
        assert scaler is not None and scaler.alpha == ev["alpha"]
        health = eng.health()
        assert health["calibration_alpha"] == "auto" and health["calibration"]["shop"]["alpha"] == ev["alpha"]
        (rec,) = eng.recommendations()
        assert rec["calibration"]["reason"] == ev["reason"]
        eng.step(now + timedelta(hours=1))  # not due again for a day
        assert len(alpha_events(eng)) == 1
        eng.step(now + timedelta(days=1, minutes=1))
        assert len(alpha_events(eng)) == 2
    finally:
        eng.platform.store.dispose()


def test_the_engines_whatif_reads_the_minutes_it_has_when_the_service_is_younger_than_the_days(
    tmp_path: Path,
) -> None:
    eng, clock = engine(tmp_path, 3.2)
    eng.config = replace(eng.config, alpha_days=7.0)  # 9 days asked of a source holding 3.2
    try:
        eng.step(clock.now())
        (ev,) = alpha_events(eng)
        assert ev["chosen"] is True and "what-if on the demand seen each minute)" in str(ev["reason"])
    finally:
        eng.platform.store.dispose()


def test_the_engine_keeps_the_default_until_the_history_is_long_enough(tmp_path: Path) -> None:
    eng, clock = engine(tmp_path, 1.5)
    try:
        eng.step(clock.now())
        (ev,) = alpha_events(eng)
        assert ev["chosen"] is False and ev["alpha"] == DEFAULT_ALPHA and "conservative default" in str(ev["reason"])
        assert eng.health()["calibration"]["shop"]["chosen"] is False
        eng.step(clock.now() + timedelta(minutes=90))  # looked at again within the hour, not said again
        assert len(alpha_events(eng)) == 1
        assert not math.isinf(eng.tracks["shop"].alpha_due)
    finally:
        eng.platform.store.dispose()


def test_on_the_wall_clock_the_whatif_runs_beside_the_step_and_a_failed_one_is_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A week's what-if can take a minute: on the wall clock it runs on its own thread (the step returns at once and
    the previous alpha holds), is applied at the first step after it ends, and one that fails is logged, shown in
    health (degraded, naming the service and the error) and tried again within the hour."""
    import time

    from hx.clock import WallClock
    from hx.scale import engine as engine_module

    end = write_history(tmp_path / "shop.csv", 3.2)
    settings = load_settings(environ={"HX_HOME": str(tmp_path / "hx")}).settings
    source = ReplaySource([tmp_path / "shop.csv"])
    platform = build_platform(settings, clock=WallClock(), source=source)
    cfg = replace(CONFIG, calibration_alpha="auto", alpha_days=1.0, alpha_refresh_s=DAY)
    eng = PredictiveScaler(platform, source, None, lambda s: PROFILE, config=cfg, mode="recommend")

    def wait() -> None:
        for _ in range(1200):
            if all(j.done() for j in eng._alpha_jobs.values()):
                return
            time.sleep(0.1)
        raise AssertionError("the alpha what-if did not end")

    try:
        eng.step(end)
        assert eng.health()["alpha_choosing"] == ["shop"] and alpha_events(eng) == []
        wait()
        eng.step(end + timedelta(minutes=1))
        (ev,) = alpha_events(eng)
        assert ev["chosen"] is True and eng.tracks["shop"].scaler.alpha == ev["alpha"]  # type: ignore[union-attr]
        assert "alpha_choosing" not in eng.health()

        def boom(*args: object, **kwargs: object) -> object:
            raise ValueError("no such history")

        monkeypatch.setattr(engine_module, "auto_alpha", boom)
        eng.tracks["shop"].alpha_due = 0.0
        eng.step(end + timedelta(minutes=2))
        wait()
        eng.step(end + timedelta(minutes=3))
        health = eng.health()
        assert health["status"] == "degraded" and "ValueError: no such history" in health["alpha_errors"]["shop"]
        assert "shop: the alpha what-if failed" in health["reason"]
        assert health["calibration"]["shop"]["alpha"] == ev["alpha"]  # the previous choice holds
        assert eng.tracks["shop"].alpha_due <= (end + timedelta(minutes=3, hours=1)).timestamp()
    finally:
        eng.platform.store.dispose()

"""The predictive scaling policy: scale out ahead, reactive floor, stabilised scale-in, bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from hx.errors import BadInput
from hx.forecast import Forecast
from hx.scale import PredictivePolicy, replicas_for
from hx.scale.conformal import ConformalUpper


def flat_forecast(start: float, level: float, spread: float = 0.0, step: float = 60.0, n: int = 60) -> Forecast:
    t = np.asarray(start + step * np.arange(1, n + 1), dtype=np.float64)
    mean = np.full(n, level, dtype=np.float64)
    return Forecast(t, mean, mean - spread, mean + spread, level=0.8)


def test_no_capacity_is_bad_input() -> None:
    for cap in (None, 0.0, -5.0, float("nan")):
        with pytest.raises(BadInput):
            PredictivePolicy(cap)
    with pytest.raises(BadInput):
        replicas_for(10.0, 0.0)


def test_scales_out_early_for_a_forecast_peak() -> None:
    p = PredictivePolicy(100.0, startup_s=120.0, lookahead_s=300.0, min_replicas=1)
    t = np.arange(60.0, 3660.0, 60.0)
    mean = np.where((t >= 200) & (t <= 400), 1000.0, 100.0)  # a peak 200-400 s from now
    fc = Forecast(t, mean, mean * 0.9, mean * 1.1)
    d = p.decide(0.0, 2, 100.0, fc)
    # window [120, 420] holds the peak: p90 = 1100 -> x1.2 / 100 = 13.2 -> 14
    assert d.replicas == 14
    assert d.predictive_replicas == 14 and d.reactive_replicas == 2
    assert d.window == (120.0, 420.0)
    assert d.forecast is fc and "scale out" in d.reason


def test_never_below_the_reactive_need() -> None:
    p = PredictivePolicy(100.0, target_utilization=0.5)
    d = p.decide(0.0, 1, 900.0, flat_forecast(0.0, 10.0))
    assert d.replicas == 18 == d.reactive_replicas  # 900 / (100 x 0.5)


def test_missing_forecast_falls_back_to_reactive() -> None:
    p = PredictivePolicy(100.0)
    d = p.decide(0.0, 1, 350.0, None)
    assert d.replicas == math.ceil(350 / 70) and "no forecast" in d.reason


def test_bounds_and_no_negative_or_nan() -> None:
    p = PredictivePolicy(100.0, min_replicas=2, max_replicas=5)
    assert p.decide(0.0, 3, 1e9, flat_forecast(0.0, 1e9)).replicas == 5
    p = PredictivePolicy(100.0, min_replicas=2, max_replicas=5)
    d = p.decide(0.0, 3, float("nan"), flat_forecast(0.0, float("nan")))
    assert d.replicas == 3
    with pytest.raises(BadInput):
        p.decide(0.0, -1, 1.0, None)


def test_scale_in_waits_for_the_window_and_steps_down() -> None:
    p = PredictivePolicy(100.0, scale_in_window_s=600.0, scale_in_step=0.2, min_replicas=1)
    reps = 20
    seen = []
    for k in range(0, 40):
        now = 60.0 * k
        d = p.decide(now, reps, 50.0, flat_forecast(now, 50.0))
        reps = d.replicas
        seen.append(reps)
    # nothing happens during the first 10 minutes
    assert seen[:10] == [20] * 10
    # then it steps down by at most 20 % a decision, never up
    assert all(b <= a for a, b in itertools.pairwise(seen))
    assert all(a - b <= max(1, math.floor(a * 0.2)) for a, b in itertools.pairwise(seen))
    assert seen[-1] == 1  # 50 req/s: 1 replica (p90 50 x 1.2 = 60 < 100; 50 / 70 -> 1)


def test_no_flapping_on_an_oscillating_forecast() -> None:
    p = PredictivePolicy(100.0, scale_in_window_s=600.0)
    reps, changes = 10, 0
    for k in range(60):
        now = 60.0 * k
        level = 900.0 if k % 4 < 2 else 300.0  # need alternates every two minutes
        d = p.decide(now, reps, level / 2, flat_forecast(now, level, n=10))
        changes += d.replicas != reps
        reps = d.replicas
    assert changes <= 2  # up once, then held: the 10-minute window always contains a high need


def test_calibrated_mode_waits_for_scores_then_provisions_the_bound() -> None:
    cal = ConformalUpper(120.0, 0.1, min_scores=5)
    p = PredictivePolicy(100.0, startup_s=120.0, calibration=cal, max_utilization=0.8, target_utilization=0.8)
    reasons = []
    for k in range(10):
        now = 60.0 * k
        d = p.decide(now, 5, 400.0, flat_forecast(now, 400.0, spread=50.0))
        reasons.append(d.reason)
    assert "calibrated" not in reasons[0]  # no scores yet: the quantile + buffer rule decides
    # 400 req/s, predicted exactly: bound 400 -> 400 / (100 x 0.8) = 5 replicas
    assert d.predictive_replicas == 5 and d.forecast_peak == pytest.approx(400.0)
    assert any("calibrated bound" in r for r in reasons[5:])


def test_calibrated_mode_keeps_the_reactive_floor_and_bounds() -> None:
    cal = ConformalUpper(120.0, 0.1, min_scores=3)
    p = PredictivePolicy(100.0, calibration=cal, max_utilization=0.8, target_utilization=0.5, max_replicas=30)
    for k in range(40):
        d = p.decide(60.0 * k, 5, 100.0, None)
    # a jump: one large error among 40 does not move the 90 % quantile (0), so the bound is 1000 / 80
    # -> 13 replicas, and the reactive floor 1000 / 50 = 20 outbids it
    d = p.decide(2400.0, 5, 1000.0, None)
    assert d.predictive_replicas == 13 and d.reactive_replicas == 20 and d.replicas == 20
    d = p.decide(2460.0, 20, 1e9, None)
    assert d.replicas == 30
    with pytest.raises(BadInput):
        PredictivePolicy(100.0, max_utilization=0.0)


def test_a_scale_in_margin_holds_a_need_one_replica_below_and_folds_the_steps() -> None:
    def run(margin: int) -> tuple[list[int], int]:
        p = PredictivePolicy(100.0, scale_in_window_s=0.0, scale_in_step=1.0, scale_in_margin=margin)
        reps, changes, seen = 10, 0, []
        for k in range(40):  # the need wobbles between 9 and 10 replicas, then drops to 7
            now = 60.0 * k
            level = (950.0 if k % 3 == 0 else 850.0) if k < 30 else 650.0
            d = p.decide(now, reps, 0.0, flat_forecast(now, level / 1.2, n=20))
            changes += d.replicas != reps
            reps = d.replicas
            seen.append(reps)
        return seen, changes

    plain, plain_changes = run(0)
    held, held_changes = run(1)
    assert plain_changes > 10 and held_changes == 1  # the wobble is followed without a margin, not with one
    assert held[:30] == [10] * 30 and held[-1] == plain[-1] == 7  # a larger drop still scales in, in one step
    with pytest.raises(BadInput, match="scale_in_margin"):
        PredictivePolicy(100.0, scale_in_margin=-1)

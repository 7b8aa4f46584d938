"""The conformal demand bound: its quantile, its coverage, its choice of predictor, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hx.errors import BadInput
from hx.forecast import Forecast
from hx.scale.conformal import ConformalUpper, conformal_quantile


def test_conformal_quantile_is_the_finite_sample_rank() -> None:
    s = np.arange(1.0, 100.0)  # 99 scores 1..99
    assert conformal_quantile(s, 0.1) == 90.0  # ceil(100 x 0.9) = 90th smallest
    assert conformal_quantile(s, 0.001) == 99.0  # more than the sample holds: the largest
    with pytest.raises(BadInput):
        conformal_quantile([], 0.1)


@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_bound_covers_poisson_demand_at_about_one_minus_alpha(alpha: float) -> None:
    rng = np.random.default_rng(4)
    c = ConformalUpper(120.0, alpha, window_s=86400.0, min_scores=60)
    level = 300.0 + 100.0 * np.sin(np.arange(4000) * 2 * np.pi / 1440)
    demand = rng.poisson(level * 4) / 4.0  # noise grows with the level
    bounds = [c.update(60.0 * k, float(d), None) for k, d in enumerate(demand)]
    hits = [demand[k + 2] > b.upper for k, b in enumerate(bounds[:-2]) if b is not None and k > 1440]
    assert abs(np.mean(hits) - alpha) < 0.5 * alpha + 0.01


def test_an_exact_forecast_is_chosen_over_the_recent_demand() -> None:
    c = ConformalUpper(120.0, 0.1, min_scores=20)
    t = np.asarray(60.0 * np.arange(600), dtype=np.float64)
    demand = 100.0 + 0.5 * np.arange(600) + 40.0 * (np.arange(600) % 7 == 0)  # a ramp with known bursts
    b = None
    for k in range(590):
        fc = Forecast(t[k + 1 : k + 8], demand[k + 1 : k + 8], demand[k + 1 : k + 8], demand[k + 1 : k + 8])
        b = c.update(float(t[k]), float(demand[k]), fc)
    assert b is not None and b.predictor.startswith("forecast") and abs(b.quantile) < 1e-6
    assert b.upper == pytest.approx(demand[591], abs=1e-6)


def test_a_ramp_is_caught_by_the_drift_predictor() -> None:
    # ramps up and down of 30 req/s a minute, as 5-minute rows interpolated give
    c = ConformalUpper(120.0, 0.05, min_scores=60)
    k = np.arange(3000)
    demand = 500.0 + 30.0 * np.minimum(k % 40, 40 - k % 40)  # 20 minutes up, 20 down
    bounds = [c.update(60.0 * i, float(d), None) for i, d in enumerate(demand)]
    b = bounds[-3]
    assert b is not None and b.predictor == "drift30"
    hits = [demand[i + 2] > x.upper for i, x in enumerate(bounds[1500:-2], 1500) if x is not None]
    assert np.mean(hits) <= 0.06
    last_only = ConformalUpper(120.0, 0.05, min_scores=60, drift_s=())
    lb = [last_only.update(60.0 * i, float(d), None) for i, d in enumerate(demand)][-3]
    assert lb is not None and b.upper - b.predicted < lb.upper - lb.predicted  # a tighter bound at the same cover


def test_bad_samples_never_give_a_negative_or_nan_bound() -> None:
    c = ConformalUpper(120.0, 0.1, min_scores=3)
    seq = [100.0, math.nan, -5.0, math.inf, 0.0, 0.0, 0.0, 0.0, 50.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    nan_fc = Forecast(np.array([1e9]), np.array([math.nan]), np.array([math.nan]), np.array([math.nan]))
    for k, d in enumerate(seq):
        b = c.update(60.0 * k, d, nan_fc if k % 2 else None)
        if b is not None:
            assert math.isfinite(b.upper) and b.upper >= 0.0


@pytest.mark.parametrize(
    "kw",
    [
        {"lead_s": -1.0},
        {"alpha": 0.0},
        {"alpha": 1.0},
        {"window_s": 0.0},
        {"min_scores": 0},
        {"ewma_s": (0.0,)},
        {"drift_s": (-60.0,)},
    ],
)
def test_rejects_bad_settings(kw: dict[str, float]) -> None:
    args: dict[str, object] = {"lead_s": 120.0, "alpha": 0.1, **kw}
    with pytest.raises(BadInput):
        ConformalUpper(**args)  # type: ignore[arg-type]

from __future__ import annotations

import numpy as np
import pytest

from hx.cost import DecayingHistogram, Prices, allocate_risk, exceed_rate, recommend, trend_factor
from hx.cost.rightsizing import MIN_CPU, MIN_MEMORY_GIB, recent_peak, settle
from hx.errors import BadInput

DAY = 86400.0


def test_histogram_quantiles_and_decay() -> None:
    h = DecayingHistogram(first_bucket=0.01, ratio=1.01, half_life_s=DAY)
    h.add_many(np.full(100, 1.0), np.zeros(100))  # old samples at 1.0
    h.add_many(np.full(100, 2.0), np.full(100, 10 * DAY))  # recent samples at 2.0 weigh 1024x more
    assert h.quantile(0.5) == pytest.approx(2.0, rel=0.02)
    assert h.quantile(0.0005) == pytest.approx(1.0, rel=0.02)


def test_recommend_is_aware_of_the_daily_peak() -> None:
    t = np.arange(0, 14 * DAY, 300.0)
    hour = np.mod(t, DAY) / 3600.0
    cpu = np.where((hour >= 9) & (hour < 11), 4.0, 0.5)  # two busy hours a day
    mem = np.full(t.size, 2.0)
    with_cycles = recommend("w", t, cpu, mem, cycles=True, trend=False)
    flat = recommend("w", t, cpu, mem, cycles=False, trend=False)
    assert flat.cpu < 1.0  # the plain p90 misses the daily peak
    assert with_cycles.cpu >= 4.0 * 1.15 * 0.99
    assert with_cycles.cpu_risk == 0.0 and flat.cpu_risk > 0.05


def test_recommend_projects_growth_and_prices_the_saving() -> None:
    t = np.arange(0, 20 * DAY, 3600.0)
    cpu = 1.0 + t / DAY * 0.1  # +0.1 vCPU a day
    r = recommend("w", t, cpu, np.full(t.size, 1.0), current_cpu=8.0, current_memory_gib=16.0, cycles=False)
    assert r.basis["cpu"]["trend_factor"] > 1.1
    prices = Prices()
    assert r.monthly_saving_usd == pytest.approx(prices.monthly(8, 16) - prices.monthly(r.cpu, r.memory_gib))


def test_recommend_bad_input() -> None:
    t = np.arange(5.0)
    with pytest.raises(BadInput):
        recommend("w", t, np.full(5, np.nan), np.ones(5))
    with pytest.raises(BadInput):
        recommend("w", t, np.ones(4), np.ones(5))
    with pytest.raises(BadInput):
        recommend("w", t[::-1], np.ones(5), np.ones(5))


def test_trend_factor_flat_is_one() -> None:
    t = np.arange(0, 10 * DAY, 3600.0)
    assert trend_factor(t, np.full(t.size, 3.0), 0.9, 7 * DAY) == 1.0


def test_allocate_risk_meets_the_budget_and_beats_a_fixed_percentile() -> None:
    rng = np.random.default_rng(0)
    flat = [10 + rng.normal(0, 0.1, 2000) for _ in range(5)]
    spiky = [np.where(rng.random(2000) < 0.05, 100.0, 1.0) for _ in range(5)]
    hist = flat + spiky
    a = allocate_risk(hist, 0.03, margin=0.0)
    assert a.pooled_exceed <= 0.03 + 1e-9
    fixed = np.array([np.quantile(h, 0.97) for h in hist])
    pooled_fixed = np.mean([exceed_rate(h, f) for h, f in zip(hist, fixed, strict=True)])
    # the fixed p97 rule pays ten times the capacity for its 1.5 % of over-limit intervals
    assert a.levels.sum() < fixed.sum() / 5 and pooled_fixed <= 0.03
    with pytest.raises(BadInput):
        allocate_risk(hist, 1.5)


def test_recommendations_are_rounded_up_and_held_at_vpa_floors() -> None:
    t = np.arange(0, 3 * DAY, 300.0)
    r = recommend("idle", t, np.full(t.size, 1e-6), np.full(t.size, 0.01))
    assert (r.cpu, r.memory_gib) == (MIN_CPU, MIN_MEMORY_GIB) == (0.025, 250 / 1024)
    busy = recommend("busy", t, np.full(t.size, 0.5123), np.full(t.size, 1.2))
    assert busy.cpu * 1000 == round(busy.cpu * 1000) and busy.memory_gib * 1024 == round(busy.memory_gib * 1024)
    assert settle(0.5001, 1.0) == (0.501, 1.0)


def test_memory_is_not_shrunk_below_the_recent_working_set_peak() -> None:
    t = np.arange(0, 20 * DAY, 300.0)
    falling = 8.0 - 0.3 * t / DAY  # the working set shrinks 0.3 GiB a day, to about 2 GiB
    r = recommend("w", t, falling / 4, falling, cycles=False)
    assert r.basis["cpu"]["trend_factor"] < 1.0  # CPU follows the load down
    assert r.basis["memory"]["trend_factor"] == 1.0  # memory does not
    assert r.memory_gib >= recent_peak(t, falling) == pytest.approx(falling[t >= t[-1] - DAY].max())
    jump = np.where(t >= t[-1] - 1200, 3.0, 1.0)  # the working set rose to 3 GiB in the last 20 minutes
    r = recommend("w", t, np.full(t.size, 0.5), jump, cycles=False)
    assert r.memory_gib >= 3.0 and r.basis["memory"]["recent_peak_gib"] == 3.0


def test_allocate_risk_keeps_every_workload_at_its_floor() -> None:
    rng = np.random.default_rng(0)
    hist = [np.where(rng.random(2000) < 0.03, 100.0, 1.0) for _ in range(4)]
    free = allocate_risk(hist, 0.04, margin=0.0)
    held = allocate_risk(hist, 0.04, margin=0.0, floors=[100.0, 0.0, 0.0, 0.0])
    assert free.levels[0] < 100.0 and held.levels[0] == 100.0 and held.expected_exceed[0] == 0.0
    assert held.pooled_exceed <= 0.04 + 1e-9
    with pytest.raises(BadInput):
        allocate_risk(hist, 0.04, floors=[1.0])

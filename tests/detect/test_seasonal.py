"""The seasonal baseline's phase search: a daily pattern arriving a little early or late is normal."""

from __future__ import annotations

import numpy as np

from hx.detect.seasonal import SeasonalBaseline


def _jittered_daily_spike(days: int = 12, seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    # 5-minute points; a spike to 10 every day at 06:00, one slot early or late at random
    rng = np.random.default_rng(seed)
    t = 1_600_000_000 + np.arange(days * 288) * 300.0
    v = 1.0 + rng.normal(0, 0.05, t.size)
    for d in range(days):
        v[d * 288 + 72 + int(rng.integers(-1, 2))] = 10.0
    return v, t


def test_phase_search_accepts_a_spike_that_arrives_a_slot_early_or_late() -> None:
    v, t = _jittered_daily_spike()
    late = slice(6 * 288, None)  # after the slots hold five days
    spikes = v[late] > 5
    plain = SeasonalBaseline().process(v, t)[late]
    phased = SeasonalBaseline(phase=2).process(v, t)[late]
    assert plain[spikes].min() >= 0.8  # the median of the slots never sees a spike: every one is a surprise
    assert phased[spikes].max() < 0.5


def test_phase_search_still_flags_a_spike_at_a_new_time() -> None:
    v, t = _jittered_daily_spike()
    v[10 * 288 + 200] = 10.0  # at 16:40, far from 06:00
    s = SeasonalBaseline(phase=2).process(v, t)
    assert s[10 * 288 + 200] >= 0.8


def test_phase_zero_is_the_plain_median_baseline() -> None:
    v, t = _jittered_daily_spike(days=7)
    np.testing.assert_array_equal(SeasonalBaseline(phase=0).process(v, t), SeasonalBaseline().process(v, t))

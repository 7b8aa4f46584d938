"""Range novelty, over all history or over a sliding window."""

from __future__ import annotations

import numpy as np

from hx.detect.novelty import RangeNovelty


def test_a_window_forgets_an_old_extreme() -> None:
    # an old excursion to 100, then 2,000 points in 0..1, then 5: new for the last 1,000 points only
    v = np.r_[np.linspace(0.0, 1.0, 200), 100.0, np.tile([0.0, 1.0], 1000), 5.0]
    t = np.arange(v.size, dtype=float)
    assert RangeNovelty().process(v, t)[-1] == 0.0
    assert RangeNovelty(window=1000).process(v, t)[-1] >= 0.8


def test_windowed_range_is_the_range_of_the_last_points() -> None:
    rng = np.random.default_rng(2)
    v = rng.normal(0, 1, 700)
    det = RangeNovelty(window=50)
    det.process(v, np.arange(700.0))
    assert (det._lo, det._hi) == (v[-50:].min(), v[-50:].max())

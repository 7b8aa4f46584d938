"""The Forecaster base: the plausibility guard every model's forecast passes through."""

from __future__ import annotations

import numpy as np


def test_a_forecast_that_leaves_the_plausible_range_falls_back_to_seasonal_naive() -> None:
    from tests.support.forecasters import EXPLODING

    t = 1.7e9 + 300.0 * np.arange(3 * 288)
    y = 2500 + 500 * np.sin(2 * np.pi * np.arange(t.size) / 288)
    fc = EXPLODING(step=300.0).fit(t, y).forecast(12)
    assert fc.model == "seasonal_naive" and fc.meta["fallback_from"] == "exploding"
    assert "forecast reaches 4.612e+04" in fc.meta["reason"] and "history spans" in fc.meta["reason"]
    assert fc.mean.max() <= y.max() and fc.to_dict()["fallback"]["fallback_from"] == "exploding"


def test_a_band_that_leaves_the_plausible_range_is_named_as_the_band() -> None:
    """A sensible point forecast under a band 50 ranges wide: the guard fires, and says it was the band (it said
    "forecast reaches", beside an excess of 0)."""
    from tests.support.forecasters import fixed

    wide_band = fixed("wide_band", 2600.0, 1300.0, 60_000.0)
    t = 1.7e9 + 300.0 * np.arange(3 * 288)
    y = 2500 + 500 * np.sin(2 * np.pi * np.arange(t.size) / 288)
    fc = wide_band(step=300.0).fit(t, y).forecast(12)
    assert fc.model == "seasonal_naive" and fc.meta["reason"].startswith("forecast's upper bound reaches 6e+04")
    assert fc.meta["excess"] == 0.0

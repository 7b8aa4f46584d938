"""Model-specific behaviour beyond the shared contract."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

from hx.errors import BadInput, ModelError
from hx.forecast import FORECASTERS, Forecast, GradientBoosted, HoltWinters, SeasonalNaive, regularize


def test_seasonal_naive_weekly_bridges_gaps_and_falls_back() -> None:
    ts = 3600.0 * np.arange(24 * 15)
    y = np.tile(np.arange(24 * 7, dtype=float), 3)[: ts.size]
    y[-24 * 7 : -24 * 7 + 3] = np.nan  # last week's first hours missing: go back one more week
    fc = SeasonalNaive(season_s=7 * 86400.0).fit(ts, y).forecast(5)
    np.testing.assert_allclose(fc.mean, y[ts.size - 24 * 14 : ts.size - 24 * 14 + 5])
    short = SeasonalNaive(season_s=7 * 86400.0).fit(ts[:30], y[:30])
    assert short.effective_season_ == 0 and short.forecast(3).mean.tolist() == [29.0] * 3


def test_holt_winters_tracks_a_level_shift() -> None:
    ts = 900.0 * np.arange(96 * 10)
    y = 100 + 20 * np.sin(2 * np.pi * ts / 86400)
    m = HoltWinters().fit(ts, y)
    m.update(ts[-1] + 900.0 * np.arange(1, 9), np.full(8, 400.0))  # demand jumps
    assert m.forecast(1).mean[0] > 130  # above anything seen before the jump (max 120)


def test_gbt_uses_the_weekday_only_with_two_weeks_of_history() -> None:
    """On a shorter history the weekday is a day counter: a day never seen would fall on any split."""
    ts = 1800.0 * np.arange(48 * 15)
    y = 100 + 20 * np.sin(2 * np.pi * ts / 86400) + np.random.default_rng(2).normal(0, 2, ts.size)
    params = GradientBoosted._unit_test_params()
    short = GradientBoosted(**params).fit(ts[: 48 * 10], y[: 48 * 10])
    full = GradientBoosted(**params).fit(ts, y)
    assert not short.weekday_ and full.weekday_
    # one feature fewer (the weekday), and the forecast still works
    assert short.models_[0].n_features_in_ == full.models_[0].n_features_in_ - 1
    assert np.all(np.isfinite(short.forecast(12).mean))


def test_regularize_sorts_and_fills_gaps() -> None:
    t, v = regularize([0.0, 120.0, 60.0, 300.0], [1.0, 3.0, 2.0, 6.0])
    assert t.tolist() == [0.0, 60.0, 120.0, 180.0, 240.0, 300.0]
    assert np.isnan(v[3]) and np.isnan(v[4]) and v[5] == 6.0


def test_forecast_quantile() -> None:
    f = Forecast(np.array([1.0]), np.array([10.0]), np.array([6.0]), np.array([12.0]), level=0.8)
    assert f.quantile(0.9)[0] == pytest.approx(12.0)
    assert f.quantile(0.1)[0] == pytest.approx(6.0)
    assert f.quantile(0.99)[0] > 12.0
    with pytest.raises(BadInput):
        f.quantile(1.0)


def test_lstm_without_torch_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails, installed or not
    ts = 900.0 * np.arange(500)
    with pytest.raises(ModelError, match="pip install torch==2.13.0"):
        FORECASTERS.get("lstm")().fit(ts, np.ones(500))


def test_lstm_failures_inside_torch_are_model_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """A torch RuntimeError (out of memory, a bad tensor) or a diverging loss fails the fit as a ModelError."""
    pytest.importorskip("torch")
    from hx.forecast.lstm import LSTMForecaster

    ts = 900.0 * np.arange(300)
    y = 100 + 10 * np.sin(2 * np.pi * ts / 86400)
    params = LSTMForecaster._unit_test_params()
    with pytest.raises(BadInput, match="learning_rate"):
        LSTMForecaster(**params, learning_rate=float("nan"))
    fitted = LSTMForecaster(**params).fit(ts, y)
    build = LSTMForecaster._build

    def diverging(self: LSTMForecaster, torch: Any) -> Any:
        net = build(self, torch)
        forward = net.forward
        net.forward = lambda x: forward(x) * float("inf")
        return net

    monkeypatch.setattr(LSTMForecaster, "_build", diverging)
    with pytest.raises(ModelError, match="diverged"):
        LSTMForecaster(**params).fit(ts, y)

    def broken(self: LSTMForecaster, torch: Any) -> Any:
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(LSTMForecaster, "_build", broken)
    with pytest.raises(ModelError, match="training failed in torch: DefaultCPUAllocator"):
        LSTMForecaster(**params).fit(ts, y)
    with pytest.raises(ModelError, match="forecasting failed in torch"):
        fitted.forecast(4)


def test_bad_level() -> None:
    with pytest.raises(BadInput):
        HoltWinters(level=1.5)

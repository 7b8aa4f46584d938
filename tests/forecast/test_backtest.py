from __future__ import annotations

import numpy as np
import pytest

from hx.errors import BadInput, ModelError
from hx.forecast import Naive, SeasonalNaive, mase, mase_scale, select_model, smape
from hx.forecast.backtest import rolling_forecasts


def seasonal(days: int = 10, step: float = 1800.0) -> tuple[np.ndarray, np.ndarray]:
    ts = step * np.arange(int(days * 86400 / step))
    rng = np.random.default_rng(3)
    return ts, 100 + 50 * np.sin(2 * np.pi * ts / 86400) + rng.normal(0, 2, ts.size)


def test_metrics() -> None:
    assert smape(np.array([0.0, 10.0]), np.array([0.0, 10.0])) == 0.0
    assert smape(np.array([np.nan, 10.0]), np.array([5.0, 10.0])) == 0.0
    assert mase_scale(np.array([1.0, 3.0, 2.0, 4.0]), 2) == 1.0
    assert mase(np.array([1.0, 2.0]), np.array([2.0, 2.0]), 0.5) == 1.0
    with pytest.raises(BadInput):
        mase_scale(np.ones(10), 2)  # no seasonal error: undefined


def test_rolling_forecasts_has_no_look_ahead() -> None:
    ts, y = seasonal()
    r = rolling_forecasts(Naive(), ts, y, 100, 110, horizon=3)
    # the naive forecast made at origin o is the value just before o
    np.testing.assert_allclose(r.pred[:, 0], y[99:109])
    np.testing.assert_allclose(r.actual[:, 0], y[100:110])


def test_select_model_prefers_the_seasonal_model_and_reports_errors() -> None:
    ts, y = seasonal()
    best, scores = select_model(
        ts, y, {"naive": Naive(), "seasonal_naive": SeasonalNaive()}, horizon=6, folds=2, every=2
    )
    assert best == "seasonal_naive"
    assert scores["seasonal_naive"].mase < scores["naive"].mase
    assert set(scores["naive"].to_dict()) >= {"smape", "mase", "folds"}
    assert len(scores["naive"].folds) == 2


def test_select_model_judges_the_horizon_steps_asked_for() -> None:
    """A drifting level with a daily cycle: the last value wins one step ahead, yesterday wins later."""
    step = 1800.0
    ts = step * np.arange(48 * 8)
    rng = np.random.default_rng(4)
    y = 500 + np.cumsum(rng.normal(0, 1, ts.size)) + 20 * np.sin(2 * np.pi * ts / 86400)
    cands = {"naive": Naive(), "seasonal_naive": SeasonalNaive()}
    first, s1 = select_model(ts, y, cands, horizon=12, folds=2, score_at=(1,))
    last, s12 = select_model(ts, y, cands, horizon=12, folds=2, score_at=(12,))
    assert (first, last) == ("naive", "seasonal_naive")
    assert s1["naive"].mase < s12["naive"].mase
    with pytest.raises(BadInput):
        select_model(ts, y, cands, horizon=12, folds=2, score_at=(13,))
    with pytest.raises(BadInput):
        select_model(ts, y, cands, horizon=12, folds=2, score_at=())


class Broken(Naive):
    name = "naive"

    def _fit(self, y: np.ndarray) -> None:
        raise ModelError("cannot fit this")


def test_select_model_records_why_a_candidate_failed() -> None:
    ts, y = seasonal(days=4)
    best, scores = select_model(ts, y, {"naive": Naive(), "broken": Broken()}, horizon=4, folds=1, every=6)
    assert best == "naive"
    assert scores["broken"].error == "cannot fit this"
    with pytest.raises(BadInput, match="no candidate"):
        select_model(ts, y, {"broken": Broken()}, horizon=4, folds=1, every=6)


def test_select_model_still_chooses_when_the_seasonal_naive_makes_no_error_on_the_fitting_data() -> None:
    """A service idle (all zeros) until the folds, then busy: MASE's in-sample seasonal scale is 0; the choice is
    made on another scale, named in the scores; a series that is constant throughout is refused, saying so."""
    ts, y = seasonal(days=6)
    y[: y.size - 2 * 48] = 0.0  # everything before the two daily folds
    cands = {"naive": Naive(), "seasonal_naive": SeasonalNaive()}
    best, scores = select_model(ts, y, cands, horizon=6, folds=2, every=2)
    assert best == "naive"  # the first busy day's seasonal naive forecasts the idle day before it
    assert scores["naive"].scale.startswith("seasonal naive over the whole series")
    assert np.isfinite(scores["seasonal_naive"].mase) and scores["naive"].mase < scores["seasonal_naive"].mase
    assert scores["naive"].to_dict()["mase_scale"] == scores["naive"].scale
    y[: y.size - 2 * 48] = np.tile([0.0, 1.0], 96)  # no seasonal error, but a one-step one
    _, scores = select_model(ts, y, cands, horizon=6, folds=2, every=2)
    assert scores["naive"].scale.startswith("in-sample one-step naive")
    with pytest.raises(BadInput, match="constant"):
        select_model(ts, np.full(ts.size, 7.0), cands, horizon=6, folds=2, every=2)


def test_select_model_needs_enough_history() -> None:
    ts, y = seasonal(days=2)
    with pytest.raises(BadInput):
        select_model(ts, y, ["naive"], horizon=4, folds=3)


def test_full_horizon_scores_only_origins_whose_whole_horizon_was_seen() -> None:
    """Without it the last fold's later origins are judged on their first steps alone; with it each fold counts
    its origins, every one scored on all steps, and the folds are weighed by them."""
    ts, y = seasonal(days=6)
    cands = {"naive": Naive(), "seasonal_naive": SeasonalNaive()}
    _, plain = select_model(ts, y, cands, horizon=24, folds=2, every=6)
    _, full = select_model(ts, y, cands, horizon=24, folds=2, every=6, full_horizon=True)
    assert "origins" not in plain["naive"].folds[0]  # the default output is unchanged
    counts = [f["origins"] for f in full["naive"].folds]
    assert counts == [8.0, 5.0]  # 48 steps a fold: origins 0, 6, ..., 42; the last fold stops 24 before the end
    folds = full["naive"].folds
    weighted = (folds[0]["mase"] * 8 + folds[1]["mase"] * 5) / 13
    assert full["naive"].mase == pytest.approx(weighted)
    assert plain["naive"].folds[1]["mase"] != pytest.approx(folds[1]["mase"])

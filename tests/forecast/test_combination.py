"""The forecast combination: a weighted mean of its members, saved and updated through them."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from hx.errors import BadInput, UnknownName
from hx.forecast import FORECASTERS, Combination, HoltWinters, Naive, SeasonalNaive

STEP = 1800.0


def series(days: int = 6) -> tuple[np.ndarray, np.ndarray]:
    ts = STEP * np.arange(int(days * 86400 / STEP))
    rng = np.random.default_rng(5)
    return ts, 100 + 40 * np.sin(2 * np.pi * ts / 86400) + rng.normal(0, 3, ts.size)


def test_the_mean_is_the_weighted_mean_of_the_members() -> None:
    ts, y = series()
    naive, snaive = Naive().fit(ts, y).forecast(6), SeasonalNaive().fit(ts, y).forecast(6)
    eq = Combination(members=("naive", "seasonal_naive")).fit(ts, y).forecast(6)
    np.testing.assert_allclose(eq.mean, (naive.mean + snaive.mean) / 2)
    np.testing.assert_allclose(eq.lower, (naive.lower + snaive.lower) / 2)
    np.testing.assert_allclose(eq.upper, (naive.upper + snaive.upper) / 2)
    w = Combination(members=("naive", "seasonal_naive"), weights=(3.0, 1.0)).fit(ts, y).forecast(6)
    np.testing.assert_allclose(w.mean, 0.75 * naive.mean + 0.25 * snaive.mean)


def test_members_get_their_config_and_the_combination_level() -> None:
    ts, y = series()
    c = Combination(
        members=("holt_winters", "seasonal_naive"),
        member_params={"seasonal_naive": {"season_s": 43200.0}},
        level=0.9,
    ).fit(ts, y)
    hw, sn = c.members_
    assert isinstance(hw, HoltWinters) and isinstance(sn, SeasonalNaive)
    assert sn.season_s == 43200.0 and hw.level == sn.level == 0.9
    assert hw.step_ == sn.step_ == STEP


def test_update_reaches_every_member_and_state_round_trips() -> None:
    ts, y = series()
    c = Combination(members=("naive", "holt_winters")).fit(ts, y)
    c.update(ts[-1] + STEP * np.arange(1, 5), np.full(4, 500.0))
    assert all(m.y_.shape[0] == c.y_.shape[0] for m in c.members_)
    assert c.members_[0].forecast(1).mean[0] == 500.0
    restored = Combination.from_state(pickle.loads(pickle.dumps(c.get_state())))
    np.testing.assert_allclose(restored.forecast(5).mean, c.forecast(5).mean)
    assert [type(m) for m in restored.members_] == [type(m) for m in c.members_]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"members": ()}, BadInput),
        ({"members": ("naive", "no_such_model")}, UnknownName),
        ({"members": ("naive", "combination")}, BadInput),
        ({"members": ("naive", "naive")}, BadInput),
        ({"members": ("naive", "seasonal_naive"), "weights": (1.0,)}, BadInput),
        ({"members": ("naive", "seasonal_naive"), "weights": (1.0, -1.0)}, BadInput),
        ({"members": ("naive", "seasonal_naive"), "weights": (0.0, 0.0)}, BadInput),
        ({"members": ("naive",), "member_params": {"gbt": {}}}, BadInput),
    ],
)
def test_bad_config_is_refused(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        Combination(**kwargs)  # type: ignore[arg-type]


def test_registered_with_its_default_members() -> None:
    assert FORECASTERS.get("combination") is Combination
    assert Combination().members == ("holt_winters", "gbt")
